"""Regressions for the security review (issue 14): each test failed on the code the
review attacked. docs/reliability.md lists them with their outcomes."""

from __future__ import annotations

import pytest

from bot.qr.verdict import judge
from tests.police_helpers import PASSWORD, csrf_token
from weburl import host_is_under, parse_link, same_site_path

# --- 1. a phishing QR code called official ------------------------------------------


@pytest.mark.parametrize(
    "content,browser_host",
    [
        ("https://evil.test\\@nhsa.gov.cn/", "evil.test"),
        ("https://evil.test\\.nhsa.gov.cn/x", "evil.test"),
        ("HTTPS://EVIL.TEST\\@WWW.NHSA.GOV.CN/", "evil.test"),
        ("http://evil.test\\\\gov.cn/", "evil.test"),
        ("https://evil.test\t\\@nhsa.gov.cn/", "evil.test"),
    ],
)
def test_backslash_urls_are_judged_by_the_host_a_browser_visits(content, browser_host):
    verdict = judge(content)
    assert verdict.kind != "official"
    assert verdict.host == browser_host


@pytest.mark.parametrize(
    "content",
    [
        "https://user@nhsa.gov.cn/",  # userinfo: the text a villager reads is not the host
        "https://ｎｈｓａ.gov.cn/",  # full-width letters
        "https://nhsa。gov。cn/",  # ideographic full stops
        "https://xn--nhsa-9la.gov.cn/",  # punycode look-alike under gov.cn
        "https://nhsa%2egov.cn/",
        "https://www.nhsa.gov.cn:8443/pay",
        "https://www.nhsa.gov.cn:8443/",
    ],
)
def test_ambiguous_official_looking_links_are_never_official(content):
    assert judge(content).kind != "official"
    assert not host_is_under(content, ["nhsa.gov.cn", "gov.cn"])


@pytest.mark.parametrize(
    "content",
    ["https://www.nhsa.gov.cn/", "https://fuwu.nhsa.gov.cn/x?y=1", "http://gxybj.gov.cn."],
)
def test_plain_official_links_stay_official(content):
    assert judge(content).kind == "official"
    assert host_is_under(content, ["nhsa.gov.cn", "gov.cn"])


def test_ip_hosts_in_any_spelling_are_bare_ip():
    for text in ("http://0x7f.1/", "http://127.1/", "http://3232235777/", "http://[::1]/"):
        link = parse_link(text)
        assert link is not None and link.is_ip, text
        assert judge(text).kind == "bare_ip", text


# --- 2. open redirect after login ---------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "////evil.example/x",
        "///evil.example/x",
        "/\\evil.example/",
        "/\t/evil.example/",
        "/\n/evil.example/",
        "/.//evil.example/",
        "/%2e//evil.example/",
        "https:evil.example",
        "javascript:alert(1)",
        "\\\\evil.example",
    ],
)
def test_next_that_a_browser_reads_as_another_host_is_refused(degraded_app, county, target):
    assert same_site_path(target) is None
    client = degraded_app.test_client()
    response = client.post(
        "/police/login",
        query_string={"next": target},
        data={"username": "sp", "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/police/"
