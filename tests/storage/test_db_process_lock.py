"""Writers of two processes queue on one lock file (storage/db.py ``_FileLock``), not in
SQLite's busy handler; a forked child opens its own descriptor (one inherited from the
parent would share the parent's lock and exclude nothing)."""

from __future__ import annotations

import os
import time

from storage.db import connect


def test_a_writer_in_another_process_waits_for_the_lock_and_then_writes(tmp_path):
    path = tmp_path / "hotline.db"
    db = connect(path)
    db.execute("CREATE TABLE t (who TEXT, at REAL)")
    db.execute("INSERT INTO t VALUES ('parent-before-fork', 0)")  # the lock file is open
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            child = connect(path, migrate_schema=False)
            with child.atomic():
                os.write(write, b"x")  # holding the lock now
                time.sleep(0.4)
                child.execute("INSERT INTO t VALUES ('child', ?)", [time.monotonic()])
            code = 0
        finally:
            os._exit(code)
    os.read(read, 1)
    asked = time.monotonic()
    with db.atomic():
        got = time.monotonic()
        db.execute("INSERT INTO t VALUES ('parent', ?)", [got])
    _pid, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert got - asked >= 0.3  # it waited for the child's transaction
    rows = db.execute("SELECT who, at FROM t ORDER BY rowid").fetchall()
    assert [r[0] for r in rows] == ["parent-before-fork", "child", "parent"]
    assert (tmp_path / "hotline.db.writelock").exists()
    assert oct((tmp_path / "hotline.db.writelock").stat().st_mode & 0o777) == "0o600"


def test_the_parent_waits_for_the_lock_file_a_forked_child_holds(tmp_path):
    """Only the lock file held (no SQLite transaction): the wait is the file lock's. With
    the descriptor inherited from the parent, the parent would not wait at all."""
    from storage import db as storage_db

    path = tmp_path / "hotline.db"
    db = connect(path)
    db.execute("CREATE TABLE t (x INTEGER)")  # the parent's descriptor is open
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            lock = storage_db._file_lock(str(path.resolve()))
            assert lock.acquire(time.monotonic() + 1)
            os.write(write, b"x")
            time.sleep(0.4)
            lock.release()
            code = 0
        finally:
            os._exit(code)
    os.read(read, 1)
    asked = time.monotonic()
    db.execute("INSERT INTO t VALUES (1)")
    waited = time.monotonic() - asked
    os.waitpid(pid, 0)
    assert waited >= 0.3
