"""Routing by jurisdiction: suffixes, duplicates across townships, near-spellings, and
the rule that nothing is ever sent to a station by guessing."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from reporting import jurisdiction
from storage.db import connect
from tests.helpers.police import SAMPLE


@pytest.fixture
def county_db(tmp_path):
    db = connect(tmp_path / "hotline.db")
    jurisdiction.import_csv(db, SAMPLE)
    yield db
    db.conn.close()


@pytest.mark.parametrize(
    ("written", "norm"),
    [
        ("石桥村", "石桥"),
        ("石桥村委会", "石桥"),
        ("石桥", "石桥"),
        ("清水社区", "清水"),
        ("柳树屯", "柳树"),
        (" 三江口村。", "三江口"),
        ("村", "村"),
    ],
)
def test_normalise_suffixes(written, norm):
    assert jurisdiction.normalise(written) == norm


@pytest.mark.parametrize(
    ("written", "station"),
    [
        ("金田村", "GP-JT"),
        ("金田", "GP-JT"),
        ("清水社区", "GP-JK"),
        ("柳树", "GP-ZJ"),
        ("我们新圩村来了三个人", "GP-JT"),
        ("ｇ紫荆村委会", "GP-ZJ"),
    ],
)
def test_unique_village_is_routed(county_db, written, station):
    route = jurisdiction.route(county_db, written)
    assert route.status == "routed", route
    assert route.match["station_code"] == station
    assert route.county == "桂平市"


def test_duplicate_across_townships_asks(county_db):
    route = jurisdiction.route(county_db, "大坡村")
    assert route.status == "ambiguous"
    assert {c["township"] for c in route.candidates} == {"金田镇", "社坡镇"}
    assert route.match is None
    # Named with its township, it is not ambiguous.
    named = jurisdiction.route(county_db, "社坡镇大坡村")
    assert named.status == "routed" and named.match["station_code"] == "GP-SP"


def test_choose_township(county_db):
    candidates = jurisdiction.route(county_db, "石桥村").candidates
    assert jurisdiction.choose_township(candidates, "2")["township"] == candidates[1]["township"]
    assert jurisdiction.choose_township(candidates, "蒙圩")["station_code"] == "GP-MW"
    assert jurisdiction.choose_township(candidates, "木乐镇")["station_code"] == "GP-ML"
    assert jurisdiction.choose_township(candidates, "9") is None
    assert jurisdiction.choose_township(candidates, "不记得了") is None


def test_near_spelling_of_one_village_is_routed_with_a_note(county_db):
    route = jurisdiction.route(county_db, "三江扣村")  # one character off 三江口村
    assert route.status == "routed"
    assert route.match["village"] == "三江口村"
    assert "near-spelling" in route.note


def test_short_near_spelling_is_not_guessed(county_db):
    # 新墟 vs 新圩: one of two characters differs; too close to call.
    route = jurisdiction.route(county_db, "新墟村")
    assert route.status == "unrouted"
    assert route.county == "桂平市"  # the county queue still gets it


def test_two_near_spellings_are_not_guessed(tmp_path):
    csv_file = tmp_path / "j.csv"
    csv_file.write_text(
        "province,city,county,township,village,station_code,station_name\n"
        "P,C,K,甲镇,黄泥塘村,S1,一所\n"
        "P,C,K,乙镇,黄沙塘村,S2,二所\n",
        encoding="utf-8",
    )
    db = connect(tmp_path / "h.db")
    jurisdiction.import_csv(db, csv_file)
    route = jurisdiction.route(db, "黄水塘村")  # one off both
    assert route.status == "unrouted"
    assert "none taken" in route.note


def test_unknown_village_is_unrouted_in_county_queue(county_db):
    route = jurisdiction.route(county_db, "北京天安门")
    assert route.status == "unrouted" and route.county == "桂平市"
    assert jurisdiction.route(county_db, "").status == "unrouted"


def test_unresolved_township_goes_to_county_unless_one_station(county_db):
    candidates = jurisdiction.route(county_db, "石桥村").candidates
    assert jurisdiction.unresolved(candidates).status == "unrouted"
    same = [dict(c, station_code="GP-ML") for c in candidates]
    assert jurisdiction.unresolved(same).match["station_code"] == "GP-ML"


def test_import_is_idempotent_and_updates(county_db, tmp_path):
    assert jurisdiction.import_csv(county_db, SAMPLE) == {"rows": 16, "stations": 7}
    assert county_db["jurisdictions"].count == 16
    moved = tmp_path / "moved.csv"
    moved.write_text(
        "province,city,county,township,village,station_code,station_name\n"
        "广西壮族自治区,贵港市,桂平市,金田镇,金田村,GP-ZJ,桂平市公安局紫荆派出所\n",
        encoding="utf-8",
    )
    jurisdiction.import_csv(county_db, moved)
    assert jurisdiction.route(county_db, "金田村").match["station_code"] == "GP-ZJ"
    assert county_db["jurisdictions"].count == 16


def test_bad_csv_is_refused(tmp_path, county_db):
    bad = tmp_path / "bad.csv"
    bad.write_text("province,city,county,village\nA,B,C,D\n", encoding="utf-8")
    with pytest.raises(jurisdiction.JurisdictionError, match="township"):
        jurisdiction.import_csv(county_db, bad)
    empty = tmp_path / "empty.csv"
    empty.write_text(
        "province,city,county,township,village,station_code,station_name\nA,B,C,D,,S,N\n",
        encoding="utf-8",
    )
    with pytest.raises(jurisdiction.JurisdictionError, match="line 2: empty village"):
        jurisdiction.import_csv(county_db, empty)


def test_cli_import(tmp_path, monkeypatch):
    from bot.cli import cli

    monkeypatch.setenv("HOTLINE_VAR", str(tmp_path / "var"))
    monkeypatch.delenv("HOTLINE_DB", raising=False)
    result = CliRunner().invoke(cli, ["jurisdictions", "import", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    assert "imported 16 villages, 7 stations" in result.output
    assert "大坡" in result.output and "石桥" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["jurisdictions", "import", str(bad)])
    assert result.exit_code == 1 and "missing column" in result.output
