"""Personal data: never in clear in the database file."""

from __future__ import annotations

from storage.privacy import mask, normalise_contact, redact_id_numbers


def test_one_person_one_hash(vault):
    forms = ["+86 138-1234-5678", "8613812345678", "13812345678", "+8613812345678"]
    assert len({vault.hash(f) for f in forms}) == 1
    assert normalise_contact(forms[0]) == "13812345678"


def test_encrypt_round_trip(vault):
    token = vault.encrypt("+8613812345678")
    assert "13812345678" not in token
    assert vault.decrypt(token) == "13812345678"
    assert vault.decrypt("garbage") is None


def test_mask():
    assert mask("+8613812345678") == "138****5678"
    assert mask("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o") == "oUp…S6o"


def test_id_numbers_are_redacted():
    text = "我的身份证号是11010519491231002X，还有440524188001010014"
    redacted = redact_id_numbers(text)
    assert "11010519491231002X" not in redacted
    assert "110105********002X" in redacted
    assert "440524********0014" in redacted


def test_raw_number_never_in_database_file(app, phone):
    for text in [
        "你好",
        "订阅",
        "我已经把验证码告诉他们了 怎么办",
        "我的身份证是11010519491231002X",
        "T",
    ]:
        phone.send(text)
    from storage.db import connect

    # Every file the hotline wrote: the database, its WAL (read first, before any
    # checkpoint could have moved or dropped what it holds), keys, uploads.
    assert any(p.name.endswith("-wal") for p in app.config["HOTLINE_VAR"].rglob("*"))
    assert_nowhere(
        app.config["HOTLINE_VAR"], ["13812345678", "8613812345678", "11010519491231002X"]
    )
    connect(app.config["HOTLINE_DB"]).execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert_nowhere(
        app.config["HOTLINE_VAR"], ["13812345678", "8613812345678", "11010519491231002X"]
    )


def assert_nowhere(folder, needles: list[str]) -> None:
    """No file under ``folder`` (the database, its -wal and -shm, keys, uploads)
    holds any of ``needles``, as UTF-8 or UTF-16."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files
    for path in files:
        raw = path.read_bytes()
        for needle in needles:
            for encoding in ("utf-8", "utf-16-le"):
                assert needle.encode(encoding) not in raw, (path, needle)
