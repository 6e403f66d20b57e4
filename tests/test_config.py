"""Configuration: defaults that run on one machine, documented in README."""

from __future__ import annotations

from pathlib import Path

from bot.config import SETTINGS, load_config

ROOT = Path(__file__).resolve().parent.parent


def test_readme_shows_the_settings_table():
    from bot.config import settings_table

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
