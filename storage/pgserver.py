"""A throwaway local PostgreSQL server (scripts/ensure-postgres) and a schema per user of
it: shared by the tests on the second engine (tests/conftest.py) and the benchmarks
(bench/run.py), so neither imports the other.

The server listens on a unix socket in a temporary folder only; ``stop`` deletes the
folder with its data.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "ensure-postgres"


class ServerUnavailable(RuntimeError):
    """No PostgreSQL could be started here (no binaries, no postgres user, ...)."""


def start(timeout: float = 120.0) -> tuple[str, str]:
    """Start a server in a new temporary folder: (its URL, the folder for ``stop``).
    Raises ServerUnavailable with the script's reason when it cannot start."""
    folder = tempfile.mkdtemp(prefix="hotline-pg-")
    os.chmod(folder, 0o755)  # noqa: S103 - the postgres user (as root) must enter it
    try:
        started = subprocess.run(
            [str(SCRIPT), "start", folder], capture_output=True, text=True, timeout=timeout
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        stop(folder)
        raise ServerUnavailable(f"PostgreSQL did not start: {exc}") from exc
    if started.returncode != 0:
        stop(folder)
        raise ServerUnavailable(
            f"PostgreSQL did not start: {started.stderr.strip() or started.returncode}"
        )
    return started.stdout.strip().splitlines()[-1], folder


def stop(folder: str, timeout: float = 120.0) -> None:
    """Stop the server started in ``folder`` and delete its data."""
    subprocess.run([str(SCRIPT), "stop", folder], capture_output=True, timeout=timeout)


@contextmanager
def server() -> Iterator[str]:
    """A throwaway server's URL for the ``with`` block; stopped after it."""
    url, folder = start()
    try:
        yield url
    finally:
        stop(folder)


def with_schema(url: str, schema: str) -> str:
    """``url`` with its search_path set to ``schema``: the app's tables go there."""
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options=-csearch_path%3D{schema}"


def create_schema(url: str, prefix: str = "t") -> tuple[str, str]:
    """A new empty schema on the server at ``url``: (a URL using it, its name)."""
    import psycopg

    schema = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    return with_schema(url, schema), schema


def drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SET lock_timeout = '10s'")
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
