"""The registry of authorised activities: storing, CSV import (bad rows reported),
the `hotline registry` CLI, and the audit log."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from accounts import officers
from bot.cli import cli
from registry import activities, staff
from tests.helpers.police import load_county

SAMPLE = Path(__file__).resolve().parents[2] / "registry" / "data" / "activities-sample.csv"
ACTOR = activities.Actor(name="cli:test")


@pytest.fixture
def vault(degraded_app):
    return degraded_app.extensions["hotline_vault"]


def _values(**extra):
    return {
        "code": "yb４５０８８１ 2025-0001",
        "organisation": "桂平市医疗保障局",
        "leader": "王建国",
        "work_ids": "gpyb-0012、GPYB0013",
        "villages": "金田村 社坡镇大坡村",
        "start": "2025-06-02",
        "end": "2025年6月6日",
        **extra,
    }


def test_codes_are_read_however_written():
    for text in ("YB-450881-2025-0001", "yb 450881 2025 0001", "ＹＢ４５０８８１２０２５００01"):
        assert activities.parse_code(text) == "YB-450881-2025-0001"
    assert activities.find_code("信上写着YB—450881—2025—0001") == "YB-450881-2025-0001"
    assert activities.parse_code("YB-450881-2025-00012") is None
    assert activities.parse_code("编号YB-450881-2025-0001") is None  # not bare


def test_store_keeps_staff_data_protected(county, vault):
    record = activities.save(county, vault, "桂平市", _values(), ACTOR)
    assert record["code"] == "YB-450881-2025-0001"
    assert record["townships"] == ["金田镇", "社坡镇"]
    assert record["villages"][1] == {"township": "社坡镇", "village": "大坡村"}
    assert record["authorised_by"] == "桂平市医疗保障局"  # the county's bureau by default
    dump = "\n".join(str(row) for row in county.execute("SELECT * FROM registry_members"))
    dump += str(county.execute("SELECT * FROM registry_activities").fetchall())
    assert "王建国" not in dump and "GPYB0012" not in dump
    assert record["leader_masked"] == "王**"
    assert activities.form_values(county, vault, record)["work_ids"] == "GPYB0012 GPYB0013"
    verdict = activities.check(county, vault, work_id="GPYB 0012", village="大坡村")
    assert verdict.activity and verdict.activity["id"] == record["id"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"code": "YB-12-2025-1"}, "authorisation code"),
        ({"villages": "大坡村"}, "several townships"),
        ({"villages": "不存在村"}, "not in 桂平市"),
        ({"end": "2025-06-01"}, "before start"),
        ({"leader": ""}, "leader is required"),
        ({"work_ids": "工号"}, "work ID"),
    ],
)
def test_bad_activities_are_refused(county, vault, change, message):
    with pytest.raises(activities.ActivityError, match=message):
        activities.save(county, vault, "桂平市", _values(**change), ACTOR)


def test_csv_import_reports_bad_rows_and_keeps_good_ones(county, vault):
    text = SAMPLE.read_text(encoding="utf-8")
    text += "YB-450881-2025-0009,某公司,张三,,,火星村,2025-06-01,2025-06-02,\n"
    text += "not-a-code,某公司,张三,,金田镇,,2025-06-01,2025-06-02,\n"
    text += ",,,,,,,,\n"  # an empty row is ignored
    result = activities.import_csv(county, vault, "\ufeff" + text, "桂平市", ACTOR)
    assert (result.created, result.updated) == (3, 0)
    assert [line for line, _ in result.errors] == [5, 6]
    assert "火星村" in result.errors[0][1]
    sample = SAMPLE.read_text(encoding="utf-8")
    again = activities.import_csv(county, vault, sample, "桂平市", ACTOR)
    assert (again.created, again.updated, again.errors) == (0, 3, [])
    with pytest.raises(activities.ActivityError, match="missing column"):
        activities.import_csv(county, vault, "code,organisation\n", "桂平市", ACTOR)


def test_every_change_is_audited(county, vault):
    record = activities.save(county, vault, "桂平市", _values(), ACTOR)
    activities.save(county, vault, "桂平市", _values(end="2025-06-08"), ACTOR, record["id"])
    activities.revoke(county, record["id"], "桂平市", "活动取消", ACTOR)
    activities.mark_forged(county, "YB-450881-2025-0099", "金田村见到", "桂平市", ACTOR)
    activities.import_csv(county, vault, SAMPLE.read_text(encoding="utf-8"), "桂平市", ACTOR)
    rows = county.execute(
        "SELECT action, username, detail FROM audit_log WHERE action LIKE 'registry_%' ORDER BY id"
    ).fetchall()
    assert [r[0] for r in rows] == [
        "registry_create",
        "registry_edit",
        "registry_revoke",
        "registry_forged",
        "registry_edit",  # the CSV's first code is the one registered above
        "registry_create",
        "registry_create",
        "registry_import",
    ]
    assert all(r[1] == "cli:test" for r in rows)
    assert "王建国" not in str(rows)


def test_cli(degraded_app, monkeypatch):
    db = load_county(degraded_app)
    monkeypatch.setenv("HOTLINE_DB", degraded_app.config["HOTLINE_DB"])
    monkeypatch.setenv("HOTLINE_VAR", str(degraded_app.config["HOTLINE_VAR"]))
    runner = CliRunner()
    result = runner.invoke(cli, ["registry", "activity", "import", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    assert "3 added, 0 updated, 0 rejected" in result.output
    args = ["registry", "activity", "add", "--code", "yb 450881 2025 0004"]
    args += ["--organisation", "桂平市医疗保障局", "--leader", "张三", "--villages", "大坡村"]
    args += ["--start", "2025-07-01", "--end", "2025-07-03"]
    result = runner.invoke(cli, args)
    assert result.exit_code != 0 and "several townships" in result.output
    args[args.index("大坡村")] = "金田镇大坡村"
    result = runner.invoke(cli, args)
    assert result.exit_code == 0 and "YB-450881-2025-0004" in result.output
    revoke = ["registry", "activity", "revoke", "YB-450881-2025-0003", "--reason", "取消"]
    assert runner.invoke(cli, revoke).exit_code == 0
    forged = ["registry", "code", "forged", "yb4508812025 0099", "--reason", "金田村"]
    result = runner.invoke(cli, forged)
    assert "marked YB-450881-2025-0099 as forged" in result.output
    listing = runner.invoke(cli, ["registry", "activity", "list", "--all"]).output
    assert "REVOKED  YB-450881-2025-0003" in listing and "金田镇大坡村" in listing
    add = ["registry", "staff", "add", "--username", "ybj", "--password", "correct horse battery"]
    assert runner.invoke(cli, add).exit_code == 0
    assert officers.get_by_username(db, "ybj")["role"] == "bureau"
    db.conn.close()


def test_bureau_accounts_need_a_known_county(county):
    with pytest.raises(officers.OfficerError, match="no county"):
        staff.add(county, "x", "correct horse battery", "平南县")
    assert staff.add(county, "ybj", "correct horse battery", "桂平市")["station_code"] is None
