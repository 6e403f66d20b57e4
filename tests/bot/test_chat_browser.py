"""The web chat page in a real headless Chromium: typing, the menu buttons, bubbles."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_type_a_question_and_read_the_answer(page, live_server):
    page.goto(live_server + "/")
    page.fill("#text", "村里来了一伙人说是医保局的，是真的吗")
    page.click("#send")
    answer = page.locator(".row.bot .bubble").nth(1)
    answer.wait_for(timeout=10_000)
    assert "12393" in answer.inner_text()
    assert page.locator(".row.me .bubble").first.inner_text().startswith("村里来了")


def test_menu_button_sends_its_number(page, live_server):
    page.goto(live_server + "/")
    page.get_by_role("button", name="已被骗怎么办").click()
    answer = page.locator(".row.bot .bubble").nth(1)
    answer.wait_for(timeout=10_000)
    assert "96110" in answer.inner_text()


def test_reply_text_is_not_html(page, live_server):
    page.goto(live_server + "/")
    page.fill("#text", "<img src=x onerror=alert(1)>")
    page.click("#send")
    page.locator(".row.bot .bubble").nth(1).wait_for(timeout=10_000)
    assert page.locator(".log img").count() == 0
