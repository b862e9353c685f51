"""`madoguchi serve`'s gunicorn, which drains before its graceful stop.

Run as `python -m madoguchi.core.serving [gunicorn options] madoguchi.wsgi:application`
(madoguchi/cli.py builds the command and sets MADOGUCHI_DRAIN_MARK, this server's own file
under DATA_DIR/servers/<port>/); gunicorn's options and signals otherwise.

On **SIGTERM** the master creates the drain mark, so /readyz answers 503 (core/health.py)
while every other URL keeps answering, for MADOGUCHI_DRAIN_SECONDS (production: 5 by
default, otherwise 0) — long enough for the load balancer's checks to take the server out
(HAProxy: `inter` × `fall`). Then gunicorn's graceful stop: the listening sockets close (a
new connection is refused, so a balancer retries it elsewhere), each worker finishes the
requests it has within gunicorn's graceful timeout, and the process exits 0. A second
SIGTERM ends the drain at once; SIGINT (Ctrl-C) is gunicorn's quick stop.

No Django here: the master must not import the project before it forks.
"""

import os
import sys
import time
from pathlib import Path

from gunicorn.app.wsgiapp import WSGIApplication
from gunicorn.arbiter import Arbiter
from gunicorn.workers import gthread


def drain_seconds() -> float:
    raw = os.environ.get("MADOGUCHI_DRAIN_SECONDS", "").strip()
    if not raw:
        return 5.0 if os.environ.get("MADOGUCHI_ENV") == "production" else 0.0
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"madoguchi: MADOGUCHI_DRAIN_SECONDS={raw!r} is not a number of seconds") from None
    if value < 0:
        raise SystemExit(f"madoguchi: MADOGUCHI_DRAIN_SECONDS={raw!r} is negative")
    return value


def mark_draining() -> None:
    mark = os.environ.get("MADOGUCHI_DRAIN_MARK", "")
    if mark and os.path.isdir(os.path.dirname(mark)):
        Path(mark).touch()


class DrainingArbiter(Arbiter):
    """gunicorn's master; SIGTERM first drains (see the module's docstring)."""

    drain_until: float | None = None

    def handle_term(self):
        drain = drain_seconds()
        mark_draining()
        if self.drain_until is not None or drain == 0:
            raise StopIteration  # gunicorn's graceful stop
        self.drain_until = time.monotonic() + drain
        self.log.info("draining for %.1f s before stopping (/readyz answers 503)", drain)

    def manage_workers(self):
        if self.drain_until is not None and time.monotonic() >= self.drain_until:
            raise StopIteration
        super().manage_workers()


class ThreadWorker(gthread.ThreadWorker):
    """gunicorn's gthread worker that closes its listening sockets when it stops accepting at
    a graceful stop (gunicorn's keeps them open until its last request ends, so the kernel
    would keep completing connections nobody answers): once every worker has closed them, a
    new connection is refused at once and a balancer retries it elsewhere."""

    def set_accept_enabled(self, enabled):
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive:
            for listener in self.sockets:
                listener.close()


def child_exit(server, worker):
    """gunicorn's hook: an exited worker's live gauges no longer count (prometheus-client's
    multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


class Application(WSGIApplication):
    def load_config(self):
        super().load_config()
        self.cfg.set("child_exit", child_exit)

    def run(self):
        try:
            DrainingArbiter(self).run()
        except RuntimeError as exc:
            print(f"\nError: {exc}\n", file=sys.stderr)
            sys.exit(1)


def main() -> None:
    drain_seconds()  # a bad value stops the start, not the stop
    Application("%(prog)s [OPTIONS] [APP_MODULE]", prog="madoguchi serve").run()


if __name__ == "__main__":
    main()
