"""Property-based fuzzing of every web form: the police login and report / incident forms,
the outreach pages, the bureau registry, and the report form driven through SMS with
random answers. Random Unicode, control characters, 100 KB values, SQL and HTML
injection, random bytes as uploaded files. Never a 500 (Flask's test client re-raises
an escaped exception, which fails the test too), a missing or wrong CSRF token is a 400
that changes nothing, no raw phone number or password stored, and hostile text shows
escaped on the page that displays it."""

from __future__ import annotations

import io
import itertools
import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import responses
from outreach import groups
from registry import activities, staff
from reporting import incidents, jurisdiction, reports
from storage.db import connect
from tests.helpers.police import PASSWORD, csrf_token, logged_in

# 15 examples per surface keeps the module near a minute on 2 cores; FUZZ_EXAMPLES=200
# for a longer hunt.
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "15")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HOSTILE = [
    "'; DROP TABLE reports; --",
    "1 OR 1=1",
    '" OR ""="',
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{7*7}}${7*7}{% raw %}",
    "\x00\x01\x08\x1b[31m\x7f\r\n",
    "\u202e\u200b\ufeff",
    "A" * 100_000,
    "验证码" * 34_000,
]
# Strings that look like ids to one check and not to the next: Unicode digits that
# str.isdigit() accepts and int() refuses, numbers beyond SQLite's 64 bits, negatives.
ODD_NUMBERS = ["²", "١٢", "０", "9" * 30, "-" + "9" * 30, "-1", "0", "1e3", " 1", "0x10", ""]
chars = st.characters(exclude_categories=["Cs"])  # the test client cannot encode surrogates
texts = st.one_of(st.text(chars, max_size=300), st.sampled_from(HOSTILE))
numberish = st.one_of(
    st.sampled_from(ODD_NUMBERS), st.integers().map(str), texts, st.integers(0, 5).map(str)
)
RAW_PHONE = "13812345678"
ENROLL_ROW = f"\n{RAW_PHONE},金田村,金田镇,桂平市\n".encode()
# What Python's csv module refuses (csv.Error): a NUL byte, a field over 128 KB.
UNREADABLE_CSV = [b"\x00", b"a\x00b\n1\n", b'"' + b"x" * 140_000 + b'"\n']
_unique = itertools.count(1)
CSRF_MISSING = [None, "", "x", "A" * 100_000, "\x00", "<script>"]


def stored_anywhere(app, needle: str) -> list[str]:
    """The tables holding ``needle`` in any text column."""
    db = connect(app.config["HOTLINE_DB"])
    try:
        found = []
        for table in db.table_names():
            for row in db.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 (table names)
                if any(isinstance(v, str) and needle in v for v in row):
                    found.append(table)
                    break
        return found
    finally:
        db.conn.close()


def count(app, sql: str) -> int:
    db = connect(app.config["HOTLINE_DB"])
    try:
        return db.execute(sql).fetchone()[0]
    finally:
        db.conn.close()


def only_id(app, table: str) -> int:
    db = connect(app.config["HOTLINE_DB"])
    try:
        (row_id,) = [row[0] for row in db.execute(f"SELECT id FROM {table}")]  # noqa: S608
        return row_id
    finally:
        db.conn.close()


class Forms:
    """A logged-in client posting forms with one CSRF token (valid for the session)."""

    def __init__(self, client, page: str) -> None:
        self.client = client
        self.token = csrf_token(client, page)

    def post(self, path: str, data: dict, **kwargs):
        response = self.client.post(path, data={**data, "csrf_token": self.token}, **kwargs)
        assert response.status_code < 500, (path, response.status_code)
        return response

    def get(self, path: str, **kwargs):
        response = self.client.get(path, **kwargs)
        assert response.status_code < 500, (path, response.status_code)
        return response


@pytest.fixture
def county(county):
    """The sample county (conftest) with a bureau account, ybj."""
    staff.add(county, "ybj", PASSWORD, "桂平市")
    return county


@pytest.fixture
def report_ids(county, degraded_app):
    """Three submitted reports sharing a suspect's number, from 金田镇 (station GP-JT) and
    紫荆镇: one incident, in the supervisor's county."""
    vault = degraded_app.extensions["hotline_vault"]
    ids = []
    for n, village in enumerate(["金田镇金田村", "紫荆镇紫荆村", "江口镇清水村"]):
        report = reports.create(
            county,
            vault,
            channel="sms",
            contact=f"+861390000000{n}",
            intent="report_qr_code",
            summary=f"让扫码送鸡蛋 号码13977665544 第{n}个",
        )
        reports.apply_route(county, report["id"], jurisdiction.route(county, village), village)
        incidents.submit(county, vault, report["id"])
        ids.append(report["id"])
    return ids


@pytest.fixture
def enrolled(county, degraded_app):
    vault = degraded_app.extensions["hotline_vault"]
    group_id = groups.ensure_group(county, "桂平市", "金田镇", "金田村")
    for phone in ("13800000001", "13800000002"):
        groups.enroll(county, vault, phone, group_id, by="张主任", channel="csv")
    return group_id


# --- police login ----------------------------------------------------------------------


@FUZZ
@given(username=texts, password=texts, nxt=st.one_of(st.none(), texts), token=st.booleans())
def test_police_login_fuzz(degraded_app, county, username, password, nxt, token):
    client = degraded_app.test_client()
    # A unique tail: an earlier example's username may have been this password.
    password = f"{password}#{next(_unique):06d}"
    data = {"username": username, "password": password}
    if token:
        data["csrf_token"] = csrf_token(client)
    query = {} if nxt is None else {"next": nxt}
    response = client.post("/police/login", data=data, query_string=query)
    assert response.status_code < 500
    assert response.status_code == (401 if token else 400)
    if password not in username:
        assert stored_anywhere(degraded_app, password) == []


@FUZZ
@given(nxt=st.one_of(texts, st.sampled_from(["//evil.example", "/\\evil", "https://x/", "/a/../"])))
def test_police_login_next_never_leaves_the_site(degraded_app, county, nxt):
    client = degraded_app.test_client()
    response = client.post(
        "/police/login",
        data={"username": "jt", "password": PASSWORD, "csrf_token": csrf_token(client)},
        query_string={"next": nxt},
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\"))


# --- police report and incident forms ----------------------------------------------------


def report_form(report_id: int):
    return st.one_of(
        st.tuples(
            st.just(f"/police/reports/{report_id}/status"),
            st.fixed_dictionaries(
                {"status": st.one_of(st.sampled_from(reports.STATUSES), texts)},
                optional={"merged_into": texts},
            ),
        ),
        st.tuples(
            st.just(f"/police/reports/{report_id}/assign"),
            st.fixed_dictionaries({"officer_id": numberish}),
        ),
        st.tuples(
            st.just(f"/police/reports/{report_id}/note"), st.fixed_dictionaries({"text": texts})
        ),
        st.tuples(
            st.just(f"/police/reports/{report_id}/route"),
            st.fixed_dictionaries(
                {"station_code": st.one_of(st.sampled_from(["GP-SP", "GP-JT", "XX"]), texts)}
            ),
        ),
        st.tuples(
            st.just(f"/police/reports/{report_id}/reveal"),
            st.dictionaries(st.text(max_size=10), texts, max_size=2),
        ),
    )


@FUZZ
@given(data=st.data(), who=st.sampled_from(["sup", "jt"]))
def test_police_report_forms_fuzz(degraded_app, report_ids, data, who):
    forms = Forms(logged_in(degraded_app, who), "/police/")
    report_id = data.draw(
        st.one_of(st.sampled_from(report_ids), st.integers(0, 2**70)), label="report_id"
    )
    path, fields = data.draw(report_form(report_id), label="form")
    response = forms.post(path, fields)
    assert response.status_code in (200, 302, 400, 403, 404)
    forms.get(f"/police/reports/{report_ids[0]}")


@FUZZ
@given(
    query=st.dictionaries(
        st.sampled_from(["status", "category", "village", "date_from", "date_to", "days", "x"]),
        st.one_of(texts, st.sampled_from(["2025-01-01", "9999-99-99", "0000-00-00"])),
        max_size=5,
    ),
    path=st.sampled_from(
        [
            "/police/",
            "/police/export.csv",
            "/police/api/reports",
            "/police/stats",
            "/police/incidents",
        ]
    ),
)
def test_police_queue_filters_fuzz(degraded_app, report_ids, query, path):
    client = logged_in(degraded_app, "sup")
    assert client.get(path, query_string=query).status_code == 200


@FUZZ
@given(status=st.one_of(st.sampled_from(["open", "closed", "all"]), texts), other=numberish)
def test_police_incident_forms_fuzz(degraded_app, report_ids, status, other):
    incident_id = only_id(degraded_app, "incidents")
    forms = Forms(logged_in(degraded_app, "sup"), "/police/incidents")
    forms.get("/police/incidents", query_string={"status": status})
    forms.get(f"/police/incidents/{incident_id}")
    response = forms.post(f"/police/incidents/{incident_id}/status", {"status": status})
    assert response.status_code in (302, 400)
    forms.get(f"/police/incidents/{other}")
    forms.post(f"/police/incidents/{other}/status", {"status": "closed"})


@FUZZ
@given(
    token=st.sampled_from(CSRF_MISSING),
    path=st.sampled_from(
        [
            "status",
            "assign",
            "note",
            "route",
            "reveal",
            "incident",
            "logout",
            "outreach_run",
            "outreach_preview",
            "outreach_send",
            "bureau_new",
            "bureau_forged",
        ]
    ),
    text=texts,
)
def test_forms_without_a_valid_csrf_token_are_400_and_change_nothing(
    degraded_app, report_ids, token, path, text
):
    client = logged_in(degraded_app, "sup")
    rid = report_ids[0]
    target = {
        "status": f"/police/reports/{rid}/status",
        "assign": f"/police/reports/{rid}/assign",
        "note": f"/police/reports/{rid}/note",
        "route": f"/police/reports/{rid}/route",
        "reveal": f"/police/reports/{rid}/reveal",
        "incident": "/police/incidents/1/status",
        "logout": "/police/logout",
        "outreach_run": "/police/outreach/run",
        "outreach_preview": "/police/outreach/alert/preview",
        "outreach_send": "/police/outreach/alert/send",
        "bureau_new": "/bureau/activities/new",
        "bureau_forged": "/bureau/forged",
    }[path]
    before = count(degraded_app, "SELECT count(*) FROM audit_log")
    data = {"status": "resolved", "text": text, "officer_id": "1", "code": text, "reason": text}
    if token is not None:
        data["csrf_token"] = token
    assert client.post(target, data=data).status_code == 400
    assert count(degraded_app, "SELECT count(*) FROM audit_log") == before
    assert count(degraded_app, "SELECT count(*) FROM reports WHERE status != 'new'") == 0


# --- outreach --------------------------------------------------------------------------


@FUZZ
@given(
    content=st.one_of(
        st.binary(max_size=3000),
        st.binary(max_size=500).map(lambda b: b"phone,village,township,county\n" + b + ENROLL_ROW),
        st.sampled_from(
            [b"\xef\xbb\xbf", b"\xff\xfe\x00p", b"phone\n" + b"1," * 50_000, *UNREADABLE_CSV]
        ),
    ),
    filename=st.one_of(st.just("a.csv"), st.text(chars, min_size=1, max_size=60)),
    channel=texts,
)
def test_outreach_csv_import_fuzz(degraded_app, county, content, filename, channel):
    forms = Forms(logged_in(degraded_app, "sup"), "/police/outreach/")
    response = forms.post(
        "/police/outreach/import",
        {"file": (io.BytesIO(content), filename), "consent_channel": channel},
        content_type="multipart/form-data",
    )
    assert response.status_code in (302, 400)
    forms.get("/police/outreach/")
    assert stored_anywhere(degraded_app, RAW_PHONE) == []


@FUZZ
@given(
    scope_type=st.one_of(st.sampled_from(["township", "county", "group"]), texts),
    scope_value=st.one_of(st.sampled_from(["金田镇", "桂平市", "桂平市/金田镇", "社坡镇"]), texts),
    text=texts,
    urgent=st.sampled_from(["", "1", "on"]),
    code=st.one_of(st.just("use-preview"), texts),
    report_id=numberish,
    who=st.sampled_from(["sup", "jt"]),
)
def test_outreach_alert_forms_fuzz(
    degraded_app, enrolled, report_ids, scope_type, scope_value, text, urgent, code, report_id, who
):
    forms = Forms(logged_in(degraded_app, who), "/police/outreach/")
    fields = {"scope_type": scope_type, "scope_value": scope_value, "text": text, "urgent": urgent}
    preview = forms.post("/police/outreach/alert/preview", fields)
    if code == "use-preview":
        found = re.search(r'name="code" value="([0-9A-F]{6})"', preview.get_data(as_text=True))
        code = found.group(1) if found else ""
    forms.post("/police/outreach/alert/send", {**fields, "code": code, "report_id": report_id})


@FUZZ
@given(group_id=st.one_of(numberish, st.just("enrolled")), who=st.sampled_from(["sup", "jt", "sp"]))
def test_outreach_run_now_fuzz(degraded_app, enrolled, group_id, who):
    forms = Forms(logged_in(degraded_app, who), "/police/outreach/")
    group_id = str(enrolled) if group_id == "enrolled" else group_id
    assert forms.post("/police/outreach/run", {"group_id": group_id}).status_code in (
        302,
        400,
        403,
        404,
    )


@FUZZ
@given(text=texts, code=texts, step=st.sampled_from(["preview", "send"]), incident=numberish)
def test_outreach_incident_alert_fuzz(
    degraded_app, enrolled, report_ids, text, code, step, incident
):
    forms = Forms(logged_in(degraded_app, "sup"), "/police/outreach/")
    incident_id = only_id(degraded_app, "incidents")
    base = f"/police/outreach/alerts/from-incident/{incident_id}"
    assert forms.get(base).status_code == 200
    forms.post(f"{base}/{step}", {"text": text, "code": code})
    forms.get(f"/police/outreach/alerts/from-incident/{incident}")
    forms.post(f"/police/outreach/alerts/from-incident/{incident}/{step}", {"text": text})


# --- bureau ----------------------------------------------------------------------------

GOOD_ACTIVITY = {
    "code": "YB-450881-2025-0001",
    "organisation": "中国银行桂平支行",
    "leader": "李晓梅",
    "work_ids": "ZH2025031 ZH2025032",
    "townships": "",
    "villages": "金田村",
    "start": "2025-06-02",
    "end": "2025-06-06",
    "authorised_by": "桂平市医疗保障局",
}


def bureau_client(app):
    client = app.test_client()
    token = csrf_token(client, "/bureau/login")
    response = client.post(
        "/bureau/login", data={"username": "ybj", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    return client


@pytest.fixture
def activity_id(degraded_app, county):
    forms = Forms(bureau_client(degraded_app), "/bureau/")
    assert forms.post("/bureau/activities/new", GOOD_ACTIVITY).status_code == 302
    return activities.get_by_code(county, GOOD_ACTIVITY["code"])["id"]


@FUZZ
@given(
    values=st.fixed_dictionaries(
        {},
        optional={
            name: st.one_of(texts, st.just(GOOD_ACTIVITY[name])) for name in activities.CSV_COLUMNS
        },
    ),
    edit=st.booleans(),
)
def test_bureau_activity_forms_fuzz(degraded_app, activity_id, values, edit):
    forms = Forms(bureau_client(degraded_app), "/bureau/")
    path = f"/bureau/activities/{activity_id}/edit" if edit else "/bureau/activities/new"
    assert forms.post(path, values).status_code in (302, 400)
    assert forms.get("/bureau/").status_code == 200
    assert forms.get(f"/bureau/activities/{activity_id}/edit").status_code == 200


@FUZZ
@given(
    content=st.one_of(
        st.binary(max_size=3000),
        st.text(chars, max_size=500).map(
            lambda t: (",".join(activities.CSV_COLUMNS) + "\n" + t).encode("utf-8")
        ),
        st.sampled_from([b"", b"\xff\xfe", b"code\n" + b"x," * 200_000, *UNREADABLE_CSV]),
    )
)
def test_bureau_csv_import_fuzz(degraded_app, county, content):
    forms = Forms(bureau_client(degraded_app), "/bureau/")
    response = forms.post(
        "/bureau/import",
        {"file": (io.BytesIO(content), "a.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code in (200, 400)
    assert forms.get("/bureau/").status_code == 200


@FUZZ
@given(
    code=st.one_of(st.just(GOOD_ACTIVITY["code"]), texts),
    reason=texts,
    who=st.sampled_from(["bureau", "sup", "jt"]),
    revoke=st.booleans(),
    target=numberish,
)
def test_bureau_forged_and_revoke_fuzz(
    degraded_app, activity_id, code, reason, who, revoke, target
):
    client = bureau_client(degraded_app) if who == "bureau" else logged_in(degraded_app, who)
    forms = Forms(client, "/bureau/")
    assert forms.post("/bureau/forged", {"code": code, "reason": reason}).status_code in (
        302,
        400,
        403,
    )
    if revoke:
        forms.post(f"/bureau/activities/{target}/revoke", {"reason": reason})
    assert forms.get("/bureau/").status_code == 200


# --- the report form through SMS ---------------------------------------------------------

_numbers = itertools.count(1)
STARTS = ["有人让扫二维码", "有人上门说免费体检", "我被骗了", "举报", "借手机"]


@FUZZ
@given(
    first=st.one_of(st.sampled_from(STARTS), texts),
    answers=st.lists(texts, min_size=1, max_size=6),
)
def test_report_form_with_random_answers(degraded_app, first, answers, phone_for):
    number = f"+86137{next(_numbers):08d}"
    phone = phone_for(degraded_app.test_client(), number)
    for text in [first, *answers]:
        replies = phone.send(text)
        assert replies, f"no reply to {text[:40]!r}"
        for reply in replies:
            assert responses.fits_sms(reply), reply
    assert stored_anywhere(degraded_app, number[3:]) == []


# --- hostile text shown escaped ----------------------------------------------------------

SCRIPT = "<script>alert('x')</script>"


def test_script_in_a_note_shows_escaped(degraded_app, report_ids):
    forms = Forms(logged_in(degraded_app, "sup"), "/police/")
    path = f"/police/reports/{report_ids[0]}"
    assert forms.post(f"{path}/note", {"text": SCRIPT}).status_code == 302
    page = forms.get(path).get_data(as_text=True)
    assert "&lt;script&gt;alert(" in page and SCRIPT not in page


def test_script_in_an_activity_shows_escaped(degraded_app, county):
    forms = Forms(bureau_client(degraded_app), "/bureau/")
    values = {**GOOD_ACTIVITY, "organisation": SCRIPT + "银行", "leader": SCRIPT}
    assert forms.post("/bureau/activities/new", values).status_code == 302
    record = activities.get_by_code(county, GOOD_ACTIVITY["code"])
    for path in ("/bureau/", f"/bureau/activities/{record['id']}/edit"):
        page = forms.get(path).get_data(as_text=True)
        assert "&lt;script&gt;alert(" in page and SCRIPT not in page, path
    # A rejected form echoes what was typed: escaped too.
    bad = forms.post("/bureau/activities/new", {**values, "villages": SCRIPT})
    assert bad.status_code == 400
    assert "&lt;script&gt;" in bad.get_data(as_text=True)
    assert SCRIPT not in bad.get_data(as_text=True)


def test_script_in_a_report_and_an_alert_text_shows_escaped(degraded_app, enrolled, phone_for):
    phone = phone_for(degraded_app.test_client(), "+8613700000099")
    for text in ("我要举报 有人让扫二维码 " + SCRIPT, "金田镇金田村", "昨天", "两个人", "跳过"):
        phone.send(text)
    forms = Forms(logged_in(degraded_app, "sup"), "/police/outreach/")
    report_id = only_id(degraded_app, "reports")
    detail = forms.get(f"/police/reports/{report_id}").get_data(as_text=True)
    assert "&lt;script&gt;" in detail and SCRIPT not in detail
    preview = forms.post(
        "/police/outreach/alert/preview",
        {"scope_type": "township", "scope_value": "金田镇", "text": "小心 " + SCRIPT},
    ).get_data(as_text=True)
    assert SCRIPT not in preview


# --- regressions found by the fuzzing above ------------------------------------------------


def test_odd_group_ids_are_404_not_500(degraded_app, enrolled):
    """ "²".isdigit() is True but int("²") raises; 30 digits overflow SQLite (both were 500)."""
    forms = Forms(logged_in(degraded_app, "sup"), "/police/outreach/")
    for odd in ("²", "١٢", "9" * 30, "0" * 19 + "1"):
        assert forms.post("/police/outreach/run", {"group_id": odd}).status_code == 404, odd
    db = connect(degraded_app.config["HOTLINE_DB"])
    with pytest.raises(groups.ScopeError):
        groups.resolve_scope(db, "group", "²")
    assert groups.resolve_scope(db, "group", str(enrolled)) == [enrolled]
    db.conn.close()


def test_csv_lines_the_csv_module_refuses_are_bad_rows_not_500(degraded_app, county):
    """A NUL byte or a 140 KB field made csv raise csv.Error: both importers answered 500."""
    nul_row = "13912345679,金\x00田村,金田镇,桂平市\n".encode()
    huge_row = b'"' + b"x" * 140_000 + b'",a,b,c\n'
    enroll_csv = b"phone,village,township,county\n" + nul_row + huge_row + ENROLL_ROW.lstrip()
    outreach = Forms(logged_in(degraded_app, "sup"), "/police/outreach/")
    page = outreach.post(
        "/police/outreach/import",
        {"file": (io.BytesIO(enroll_csv), "x.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "已登记 1 人" in page and "第2行：读不出" in page
    assert "第3行：读不出" in page
    header_only = outreach.post(
        "/police/outreach/import",
        {"file": (io.BytesIO(b"pho\x00ne,village\n"), "x.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "无法导入：第一行读不出" in header_only.get_data(as_text=True)

    bureau = Forms(bureau_client(degraded_app), "/bureau/")
    row = ",".join(GOOD_ACTIVITY[c] for c in activities.CSV_COLUMNS)
    text = ",".join(activities.CSV_COLUMNS) + "\n" + "a\x00b\n" + row + "\n"
    done = bureau.post(
        "/bureau/import",
        {"file": (io.BytesIO(text.encode()), "a.csv")},
        content_type="multipart/form-data",
    )
    assert done.status_code == 200 and "not readable as CSV" in done.get_data(as_text=True)
    assert activities.get_by_code(county, GOOD_ACTIVITY["code"]) is not None
    nul = {"file": (io.BytesIO(b"\x00"), "a.csv")}
    bad = bureau.post("/bureau/import", nul, content_type="multipart/form-data")
    assert bad.status_code == 400 and "the first line is not CSV text" in bad.get_data(as_text=True)


@FUZZ
@given(
    attachment_id=st.one_of(st.integers(0, 2**70), st.sampled_from([2**63, 2**63 - 1, 2**64])),
    report_id=st.one_of(st.integers(0, 2**70), st.just(1)),
    who=st.sampled_from([None, "sp", "sup"]),
)
def test_photo_ids_fuzz(degraded_app, report_ids, attachment_id, report_id, who):
    # An attachment id of 2^63 once raised OverflowError in SQLite: a 500.
    client = degraded_app.test_client() if who is None else logged_in(degraded_app, who)
    response = client.get(f"/police/reports/{report_id}/photos/{attachment_id}")
    assert response.status_code in (302, 404)
