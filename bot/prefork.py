"""`hotline serve --workers N`: one listening socket, N worker processes, a supervisor.

Python runs one thread of Python at a time, so one process answers on one core however
many waitress threads it has. The supervisor binds the socket, loads the NLU model and
builds the app once, then forks N workers that each run waitress on that same socket
(the kernel hands each new connection to one of them). A worker that dies is replaced;
SIGTERM or SIGINT to the supervisor is passed to every worker, which finishes its
requests in flight (waitress gives them 5 s) and exits; then the supervisor exits 0.

Fork after load, not load per worker (``--preload``, the default; measured in
docs/benchmarks.md, "Workers"): the model's and the libraries' pages are shared
copy-on-write, so a worker adds its private pages only (two workers and the supervisor:
648 MB PSS, against 1,021 MB when each worker loads its own); every worker has the model
sooner (22.8 s against 26.6 s on a loaded machine: two loads competed for the cores),
and a replaced worker answers with the model at once. The price: nothing answers until
that one load is done (connections wait in the listening socket's backlog, they are not
refused). ``gc.freeze()`` before the fork keeps the cyclic collector from writing to (and
so copying) the shared objects' pages. The model is loaded synchronously before any fork:
no loading thread may be running when a process forks (its locks would be copied held).
``--no-preload`` keeps the old behaviour per worker (each loads its model in the
background and answers from the keyword fallback meanwhile), for the measurement and for
a model that cannot be forked safely.

What must not be copied into the workers is made after the fork: database connections
(none is open at fork: the app factory closes its own), the OCR engine's threads
(``ocr.warm_up`` per worker), the scheduler. Numerical libraries get one thread per
worker (the workers are the parallelism; more threads only contend for the cores).

The scheduler (tip schedules, the outbox drain) runs in worker 0 only, restarted with
it. ``messaging.outbox.wake`` asks the drain of its own process; in the other workers
it signals the supervisor (SIGUSR1), which passes it to worker 0, so a notice queued on
a police page served by worker 1 is still sent at once rather than at the next tick.

Every piece of state the workers share is in the database: inbound claims and their
replies (bot/conversations.py), flood-limit buckets (storage/buckets.py), the outbox,
WeChat tokens and quotas. Each worker gets its own owner id (storage/owners.py) after the
fork, so the claims of a killed worker are taken over by the others at once.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

# Numerical libraries' pools: one thread per worker process.
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
STOP_WAIT_S = 10.0  # waitress gives requests in flight 5 s; then SIGKILL
# A worker that dies sooner than this after its start is restarted after a pause, so a
# worker that cannot start does not fork in a tight loop.
CRASH_LOOP_S = 2.0
SCHEDULER_WORKER = 0
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def listen(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """The one listening socket the workers share. Bound before the model loads: a
    client that connects meanwhile waits in the backlog instead of being refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


def one_thread_per_library() -> None:
    """Numerical thread pools to one thread: for libraries loaded later (environment)
    and for those already loaded (threadpoolctl; inherited by the forked workers)."""
    for name in THREAD_ENV:
        os.environ[name] = "1"
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn depends on it
        return
    threadpool_limits(1)


def renew_owner_id() -> None:
    """A forked worker's own owner id (``host:pid:nonce``): the id was made at import,
    in the supervisor, and a killed worker's claims must be judged by its own pid.
    (Every claim reads ``storage.owners.PROCESS_ID`` when it is made.)"""
    from storage import owners

    owners.renew()


@dataclass
class Worker:
    index: int
    pid: int
    started: float


@dataclass
class Supervisor:
    """Forks ``workers`` processes running ``run_worker(index)`` and keeps them up."""

    workers: int
    run_worker: Callable[[int], None]
    children: dict[int, Worker] = field(default_factory=dict)
    stopping: bool = False

    def spawn(self, index: int) -> Worker:
        supervisor = os.getpid()
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                # Handlers first, then the mask the supervisor blocked lifted. SIGUSR1
                # (a wake, see cross_process_wake) must never kill a worker.
                for sig in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(sig, _exit_worker)
                signal.signal(signal.SIGUSR1, signal.SIG_IGN)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_SETMASK, set())
                die_with_parent(supervisor)
                self.run_worker(index)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 0
            except BaseException:
                log.exception("worker %d failed", index)
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        worker = Worker(index, pid, time.monotonic())
        self.children[pid] = worker
        log.info("worker %d started (pid %d)", index, pid)
        return worker

    def run(self) -> int:
        """Start the workers and supervise them until SIGTERM / SIGINT; the exit code."""
        watched = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGUSR1}
        signal.pthread_sigmask(signal.SIG_BLOCK, watched)
        # SIGCHLD is ignored by default and then not queued for sigtimedwait: give it a
        # handler (never run while blocked).
        signal.signal(signal.SIGCHLD, lambda *_: None)
        for index in range(self.workers):
            self.spawn(index)
        while not self.stopping:
            info = signal.sigtimedwait(watched, 1.0)
            if info is None:
                self.reap()
                continue
            if info.si_signo in (signal.SIGTERM, signal.SIGINT):
                self.stopping = True
            elif info.si_signo == signal.SIGUSR1:
                self.wake_scheduler()
            else:
                self.reap()
        return self.stop()

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self.children.pop(pid, None)
            if worker is None or self.stopping:
                continue
            log.error(
                "worker %d (pid %d) exited (%s): starting another",
                worker.index,
                pid,
                _describe(status),
            )
            if time.monotonic() - worker.started < CRASH_LOOP_S:
                time.sleep(CRASH_LOOP_S)
            self.spawn(worker.index)

    def wake_scheduler(self) -> None:
        for worker in self.children.values():
            if worker.index == SCHEDULER_WORKER:
                _signal(worker.pid, signal.SIGUSR1)

    def stop(self) -> int:
        for worker in list(self.children.values()):
            _signal(worker.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_S
        while self.children and time.monotonic() < deadline:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                break
            if pid:
                self.children.pop(pid, None)
            else:
                time.sleep(0.05)
        for worker in list(self.children.values()):
            log.error("worker %d (pid %d) did not stop: killed", worker.index, worker.pid)
            _signal(worker.pid, signal.SIGKILL)
            os.waitpid(worker.pid, 0)
        self.children.clear()
        return 0


def die_with_parent(supervisor: int) -> None:
    """A worker dies with its supervisor (Linux PR_SET_PDEATHSIG): a supervisor killed
    with -9 must not leave workers answering on the port with nobody to replace or stop
    them. SIGKILL, as the supervisor got: what was in flight is taken over by the next
    start (its claims' owner is dead, storage/owners.py)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the supervisor's stop still ends them
        return
    if os.getppid() != supervisor:  # it died before the call
        os._exit(1)


def _exit_worker(_signum: int, _frame: Any) -> None:
    # Raised in the worker's main thread, inside waitress's loop: waitress catches
    # SystemExit, lets its threads finish their requests (5 s), and returns.
    raise SystemExit(0)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # gone already
        os.kill(pid, sig)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"code {os.waitstatus_to_exitcode(status)}"


def cross_process_wake(index: int) -> None:
    """``messaging.outbox.wake`` across workers: worker 0 runs the scheduler and drains
    on SIGUSR1; the other workers' wake signals the supervisor, which tells worker 0."""
    from messaging import outbox

    if index == SCHEDULER_WORKER:

        def on_wake(_signum: int, _frame: Any) -> None:
            # Not in the handler itself: the handler interrupts the main thread, which may
            # hold a lock the scheduler needs.
            threading.Thread(target=outbox.wake, name="outbox-wake", daemon=True).start()

        signal.signal(signal.SIGUSR1, on_wake)
    else:
        supervisor = os.getppid()
        outbox.set_waker(lambda: os.kill(supervisor, signal.SIGUSR1))


def serve(
    *,
    host: str,
    port: int,
    threads: int,
    workers: int,
    preload: bool,
    build_app: Callable[[bool], Any],
    setup: Callable[[], None],
    start_scheduler: Callable[[Any], Any],
    warm_up: Callable[[], Any],
    server_options: dict[str, Any],
    announce: Callable[[Any], None],
) -> int:
    """Bind, run the one-time ``setup`` (migrations, generated keys: done once, here, not
    raced by the workers), build the app (``build_app(preload)``: with the model loaded
    when ``preload``), fork ``workers`` workers and supervise them; the exit code."""
    from waitress.server import create_server

    one_thread_per_library()
    sock = listen(host, port)
    setup()
    app = build_app(preload) if preload else None
    if preload:
        announce(app)
        # What is loaded now stays shared with the workers: the cyclic collector must not
        # write to those objects' pages in each worker (copy-on-write would copy them).
        gc.collect()
        gc.freeze()
        alive = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
        if alive:  # a thread copied into a fork is copied without its locks' owner
            log.warning("threads running at fork: %s", ", ".join(alive))

    def run_worker(index: int) -> None:
        renew_owner_id()
        worker_app = app if app is not None else build_app(False)
        if app is None and index == 0:
            announce(worker_app)
        warm_up()
        scheduler = start_scheduler(worker_app) if index == SCHEDULER_WORKER else None
        cross_process_wake(index)
        server = create_server(worker_app, sockets=[sock], threads=threads, **server_options)
        try:
            server.run()  # returns after SIGTERM, its requests in flight finished
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)

    supervisor = Supervisor(workers, run_worker)
    try:
        return supervisor.run()
    finally:
        sock.close()
        sys.stdout.flush()
