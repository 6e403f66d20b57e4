"""In a real headless Chromium, on a desk (1280x800) and a phone (390x844): every
officers' page carries the one navigation, with tips and alerts for the roles that may
send them and not for bureau staff; officers read no English; on the phone nothing
scrolls sideways and the queue shows each report as a readable card."""

from __future__ import annotations

import re

import pytest

from registry import staff
from tests.helpers.police import PASSWORD, worked_report

pytestmark = pytest.mark.browser

VIEWPORTS = {"desk": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
# ASCII words an officer may see: tokens officers use as they are, and (added per test)
# report codes and usernames. 110/96110 and other numbers are not words.
ALLOWED = {"SMS", "QR", "ID", "CSV"}
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def login(page, base: str, username: str, path: str = "/police/login") -> None:
    page.goto(base + path)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def english(page, allowed: set[str]) -> set[str]:
    return set(WORD.findall(page.inner_text("body"))) - ALLOWED - allowed


def nav_urls(page) -> list[str]:
    return page.eval_on_selector_all(
        "header nav.areas a", "links => links.map(a => a.getAttribute('href'))"
    )


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")


def shot(page, folder, name: str) -> None:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000, path


@pytest.mark.parametrize("size", VIEWPORTS)
def test_officer_pages_have_the_navigation_and_no_english(
    degraded_app, degraded_server, browser, county, tmp_path, size
):
    report = worked_report(degraded_app, county)
    allowed = {report["ref"], "jt", "jt2", "sup"}
    context = browser.new_context(viewport=VIEWPORTS[size], locale="zh-CN")
    page = context.new_page()
    login(page, degraded_server, "jt")
    pages = {
        "queue": ("/police/", "/police/"),
        "report": (f"/police/reports/{report['id']}", "/police/"),
        "outreach": ("/police/outreach/", "/police/outreach/"),
        "incidents": ("/police/incidents", "/police/incidents"),
        "stats": ("/police/stats", "/police/stats"),
        "registry": ("/bureau/", "/bureau/"),
    }
    for name, (path, area) in pages.items():
        response = page.goto(degraded_server + path)
        assert response.status == 200, path
        urls = nav_urls(page)
        assert "/police/outreach/" in urls and "/police/" in urls, name
        assert "/police/review/" not in urls  # a station officer reviews no messages
        current = page.locator("header nav.areas a[aria-current]")
        assert current.count() == 1 and current.get_attribute("href") == area, name
        assert page.locator("header nav.areas").is_visible()
        assert not english(page, allowed), (name, english(page, allowed))
        if size == "phone":
            assert no_sideways_scroll(page), name
        shot(page, tmp_path, f"{name}-{size}")

    page.goto(degraded_server + f"/police/reports/{report['id']}")
    assert "查看举报人号码" in page.inner_text("#history")
    assert page.locator("#new-status").input_value() == report_status(county, report)
    page.goto(degraded_server + "/police/")
    card = page.locator("#queue tbody tr.report").first
    assert report["ref"] in card.inner_text()
    box = card.bounding_box()
    if size == "phone":
        assert page.locator("#queue thead").is_hidden()  # cards, not a squeezed table
        assert 300 < box["width"] <= 390
        place = card.locator("td[data-label=地点]").bounding_box()
        assert place["width"] > 300 and place["height"] < 60  # a line, not a char a line
    else:
        assert page.locator("#queue thead").is_visible() and box["width"] > 1000
    page.click("header nav.areas >> text=防骗提醒和紧急提醒")
    assert page.url.endswith("/police/outreach/")
    context.close()


def report_status(db, report) -> str:
    return next(db.query("SELECT status FROM reports WHERE id = ?", [report["id"]]))["status"]


@pytest.mark.parametrize("size", VIEWPORTS)
def test_only_roles_that_may_send_alerts_are_shown_the_way(
    degraded_server, browser, county, tmp_path, size
):
    staff.add(county, "ybj", PASSWORD, "桂平市")
    context = browser.new_context(viewport=VIEWPORTS[size], locale="zh-CN")
    bureau = context.new_page()
    login(bureau, degraded_server, "ybj", "/bureau/login")
    assert bureau.url.endswith("/bureau/")
    urls = nav_urls(bureau)
    assert "/bureau/" in urls and "/bureau/activities/new" in urls
    assert not [u for u in urls if u.startswith("/police/")]  # no tips and alerts, no queue
    assert (
        bureau.locator("header nav.areas a[aria-current=page]").get_attribute("href") == "/bureau/"
    )
    if size == "phone":
        assert no_sideways_scroll(bureau)
    shot(bureau, tmp_path, f"bureau-{size}")
    context.close()

    context = browser.new_context(viewport=VIEWPORTS[size], locale="zh-CN")
    sup = context.new_page()
    login(sup, degraded_server, "sup")
    urls = nav_urls(sup)
    assert {"/police/outreach/", "/police/review/", "/bureau/"} <= set(urls)
    sup.click("header nav.areas >> text=消息审核")
    assert sup.url.endswith("/police/review/")
    current = sup.locator("header nav.areas a[aria-current]")
    assert current.get_attribute("href") == "/police/review/"
    if size == "phone":
        assert no_sideways_scroll(sup)
    shot(sup, tmp_path, f"review-{size}")
    context.close()
