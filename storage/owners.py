"""Who holds a claim on a row (an inbound message, an outbox row) and whether that
process still runs: after a kill -9 its claims are taken over at once instead of
waiting out a lease.

An owner is ``host:pid:nonce``; only owners on this host can be judged (a claim of
another machine is never presumed dead). The nonce tells a restarted process that
got the same pid from the old one.
"""

from __future__ import annotations

import os
import socket
import uuid


def _new_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


PROCESS_ID = _new_id()


def renew() -> str:
    """A new id for this process, after a fork (``hotline serve --workers``): a forked
    worker must not claim rows under its supervisor's id, or its claims would outlive
    it (the supervisor still runs)."""
    global PROCESS_ID
    PROCESS_ID = _new_id()
    return PROCESS_ID


def owner_dead(owner: str | None) -> bool:
    """True when ``owner`` was a process on this host that no longer runs."""
    if not owner or owner == PROCESS_ID:
        return False
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        # Our pid with another nonce: a process before us that had it (a restart in a
        # container, where pids repeat) -- gone.
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, but not ours to signal: alive
        return False
    return _zombie(int(pid))


def _zombie(pid: int) -> bool:
    """A killed process nobody has reaped yet still answers signal 0: a worker killed with
    its supervisor (kill -9) is reparented, and a container's init may never reap it."""
    try:
        stat = open(f"/proc/{pid}/stat", encoding="ascii", errors="replace").read()  # noqa: SIM115
    except OSError:
        return False  # no /proc (not Linux): judged by the signal alone
    # "pid (comm) state ...": comm may hold spaces and parentheses; the state follows
    # the last ")".
    return stat.rpartition(")")[2].split()[:1] == ["Z"]
