"""Pieces of the pre-fork supervisor (bot/prefork.py) that the end-to-end test of
tests/bot/test_serve_workers.py cannot see from outside: a worker's own owner id, and a
wake in a worker other than the scheduler's reaching the supervisor."""

from __future__ import annotations

import os
import signal
import threading
import time

from bot import prefork
from messaging import outbox
from storage import owners


def _in_child(body) -> int:
    """Run ``body()`` in a forked child; its exit code (1 on any exception)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if body() else 3
        finally:
            os._exit(code)
    _pid, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_forked_worker_claims_under_its_own_id():
    parent = owners.PROCESS_ID

    def body() -> bool:
        prefork.renew_owner_id()
        mine = owners.PROCESS_ID
        return (
            mine != parent
            and mine.split(":")[1] == str(os.getpid())
            # The supervisor is alive: its id is not "dead" to the worker, the worker's
            # own is not either.
            and not owners.owner_dead(parent)
            and not owners.owner_dead(mine)
        )

    assert _in_child(body) == 0
    assert parent == owners.PROCESS_ID  # the parent's is untouched


def test_a_wake_in_worker_1_signals_the_supervisor():
    # A handler, not a blocked mask: other threads of this test process (earlier tests'
    # parsers, schedulers) do not block SIGUSR1, and its default action kills the process.
    got = threading.Event()
    previous = signal.signal(signal.SIGUSR1, lambda *_: got.set())
    try:

        def body() -> bool:
            prefork.cross_process_wake(1)
            return outbox.wake()

        assert _in_child(body) == 0
        assert got.wait(5)
    finally:
        signal.signal(signal.SIGUSR1, previous)
        outbox.set_waker(None)


def test_worker_0_drains_on_the_supervisors_signal():
    def body() -> bool:
        woken = []
        outbox.set_waker(lambda: woken.append(True))
        prefork.cross_process_wake(0)
        os.kill(os.getpid(), signal.SIGUSR1)
        for _ in range(100):  # the wake runs on a thread of its own
            if woken:
                return True
            time.sleep(0.02)
        return False

    assert _in_child(body) == 0
