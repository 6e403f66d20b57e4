"""Configuration: defaults that run on one machine, documented in README."""

from __future__ import annotations

from pathlib import Path

from settings import SETTINGS, load_config

ROOT = Path(__file__).resolve().parents[2]


def test_readme_shows_the_settings_table():
    from settings import settings_table

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert settings_table() in readme, "paste the output of `hotline settings` into README"


def test_embedded_defaults(tmp_path, monkeypatch):
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    config = load_config({"HOTLINE_VAR": str(tmp_path)})
    assert config["HOTLINE_DB"] == str(tmp_path / "hotline.db")
    assert config["HOTLINE_SMS_PROVIDER"] == "console"
    # The development session key is generated once and kept.
    assert config["SECRET_KEY"] == load_config({"HOTLINE_VAR": str(tmp_path)})["SECRET_KEY"]


def test_domains_read_the_one_settings_module(tmp_path, monkeypatch):
    """The CLI, the purge jobs and the key file read settings/ like the app does: the
    app's config first, else the environment, else the table's default."""
    import settings
    from reporting.purge import purge_days
    from review.queue import review_days

    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    assert (purge_days(), review_days()) == (180, 30)
    monkeypatch.setenv("HOTLINE_PURGE_DAYS", "90")
    monkeypatch.setenv("HOTLINE_VAR", str(tmp_path))
    assert purge_days() == 90
    assert purge_days({"HOTLINE_PURGE_DAYS": "7"}) == 7
    assert settings.db_path() == str(tmp_path / "hotline.db")
    monkeypatch.setenv("HOTLINE_REVIEW_DAYS", "soon")
    try:
        review_days()
    except ValueError as exc:
        assert "HOTLINE_REVIEW_DAYS" in str(exc)
    else:
        raise AssertionError("a setting that is not a number must be refused clearly")


def test_no_domain_reads_the_environment_for_a_setting():
    """Only settings/ reads HOTLINE_* from os.environ (nlu/ excepted: its training runs
    outside the app and owns its own reader)."""
    offenders = []
    for path in ROOT.glob("*/**/*.py"):
        top = path.relative_to(ROOT).parts[0]
        if top in ("settings", "tests", "bench", "nlu", ".venv", "models"):
            continue
        text = path.read_text(encoding="utf-8")
        if "os.environ" in text and "HOTLINE_" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
