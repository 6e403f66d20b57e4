"""The bureau's pages: login lands on /bureau, create and edit activities, CSRF, police
read but cannot edit, a supervisor marks a code forged, every change audited."""

from __future__ import annotations

import pytest

from registry import activities, staff
from tests.helpers.police import PASSWORD, csrf_token, logged_in

FORM = {
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


@pytest.fixture
def county(county):
    """The sample county (conftest) with a bureau account, ybj."""
    staff.add(county, "ybj", PASSWORD, "桂平市")
    return county


def bureau_login(app, username="ybj"):
    client = app.test_client()
    token = csrf_token(client, "/bureau/login")
    response = client.post(
        "/bureau/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    return client, response


def post(client, path, data):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/bureau/")})


def audit_actions(db):
    rows = db.execute("SELECT action FROM audit_log WHERE action LIKE 'registry_%' ORDER BY id")
    return [r[0] for r in rows]


def test_bureau_login_lands_on_bureau_and_police_pages_are_closed(degraded_app, county):
    client, response = bureau_login(degraded_app)
    assert response.status_code == 302 and response.headers["Location"].endswith("/bureau/")
    assert "授权的推广活动" in client.get("/bureau/").get_data(as_text=True)
    police = client.get("/police/")
    assert police.status_code == 302 and police.headers["Location"] == "/bureau/"
    assert client.get("/police/api/reports").status_code == 403
    # The shared police login also sends a bureau account to /bureau.
    other = logged_in(degraded_app, "ybj")
    assert other.get("/police/", follow_redirects=True).request.path == "/bureau/"


def test_create_and_edit_are_audited(degraded_app, county):
    client, _ = bureau_login(degraded_app)
    response = post(client, "/bureau/activities/new", FORM)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已登记 YB-450881-2025-0001" in page and "李**" in page
    assert "李晓梅" not in page and "ZH2025031" not in page  # masked in the list
    activity = activities.get_by_code(county, FORM["code"])
    edit_path = f"/bureau/activities/{activity['id']}/edit"
    form = client.get(edit_path).get_data(as_text=True)
    assert "李晓梅" in form and "ZH2025031 ZH2025032" in form  # the bureau edits the clear text
    response = post(client, edit_path, {**FORM, "villages": "金田村 新圩村"})
    assert response.status_code == 302
    assert [p["village"] for p in activities.get(county, activity["id"])["villages"]] == [
        "金田村",
        "新圩村",
    ]
    bad = post(client, edit_path, {**FORM, "villages": "火星村"})
    assert bad.status_code == 400 and "火星村" in bad.get_data(as_text=True)
    response = post(client, f"/bureau/activities/{activity['id']}/revoke", {"reason": "取消"})
    assert response.status_code == 302
    assert activities.get(county, activity["id"])["revoked_at"]
    assert audit_actions(county) == ["registry_create", "registry_edit", "registry_revoke"]
    row = county.execute(
        "SELECT username, ip FROM audit_log WHERE action = 'registry_edit'"
    ).fetchone()
    assert row[0] == "ybj" and row[1]


def test_csrf_is_enforced(degraded_app, county):
    client, _ = bureau_login(degraded_app)
    response = client.post("/bureau/activities/new", data=FORM)
    assert response.status_code == 400
    assert activities.get_by_code(county, FORM["code"]) is None
    assert audit_actions(county) == []


def test_csv_import_page_lists_bad_rows(degraded_app, county):
    client, _ = bureau_login(degraded_app)
    header = ",".join(activities.CSV_COLUMNS)
    good = ",".join(FORM[c] for c in activities.CSV_COLUMNS)
    bad = good.replace("YB-450881-2025-0001", "YB-450881-2025-0002").replace("金田村", "火星村")
    data = f"{header}\n{good}\n{bad}\n".encode()
    from io import BytesIO

    response = client.post(
        "/bureau/import",
        data={"file": (BytesIO(data), "a.csv"), "csrf_token": csrf_token(client, "/bureau/")},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "新增 1 条" in page and "火星村" in page
    assert audit_actions(county) == ["registry_create", "registry_import"]


def test_police_read_but_cannot_edit_and_a_supervisor_marks_forged(degraded_app, county):
    bureau, _ = bureau_login(degraded_app)
    post(bureau, "/bureau/activities/new", FORM)
    activity = activities.get_by_code(county, FORM["code"])
    officer = logged_in(degraded_app, "jt")
    assert FORM["code"] in officer.get("/bureau/").get_data(as_text=True)
    assert officer.get("/bureau/activities/new").status_code == 403
    edit = post(officer, f"/bureau/activities/{activity['id']}/edit", {**FORM, "end": "2026-01-01"})
    assert edit.status_code == 403
    assert activities.get(county, activity["id"])["end_date"] == "2025-06-06"
    forged = {"code": "yb 450881 2025 0099", "reason": "金田村发现伪造介绍信"}
    assert post(officer, "/bureau/forged", forged).status_code == 403
    supervisor = logged_in(degraded_app, "sup")
    assert post(supervisor, "/bureau/forged", forged).status_code == 302
    assert activities.forged(county, "YB-450881-2025-0099")["reported_by"] == "sup"
    assert audit_actions(county) == ["registry_create", "registry_forged"]


def test_other_county_activity_is_404(degraded_app, county):
    client, _ = bureau_login(degraded_app)
    assert client.get("/bureau/activities/999/edit").status_code == 404
    assert client.get("/bureau/activities/99999999999999999999/edit").status_code == 404


def test_login_required(degraded_app, county):
    client = degraded_app.test_client()
    response = client.get("/bureau/")
    assert response.status_code == 302 and "/bureau/login" in response.headers["Location"]
    _, wrong = bureau_login(degraded_app, "nobody")
    assert wrong.status_code == 401
