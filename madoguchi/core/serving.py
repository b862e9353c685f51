"""`madoguchi serve`: gunicorn, with a run directory and a drain before its graceful stop.

Run as `python -m madoguchi.core.serving [gunicorn options] madoguchi.wsgi:application`
(madoguchi/cli.py builds the command); gunicorn's own options and signals otherwise.

- **The run directory** (`MADOGUCHI_RUN_DIR`, else a new temporary directory, removed at
  exit): its `metrics/` is prometheus-client's multiprocess directory (emptied at start; a
  worker's files are marked dead when it exits), and its `draining` file tells /readyz that
  the server is stopping. Set before gunicorn forks a worker, so every worker sees it.
- **SIGTERM**: the master marks the server draining (/readyz answers 503) and keeps serving
  for `MADOGUCHI_DRAIN_SECONDS` (production: 5 by default; otherwise 0) — long enough for the load balancer's health checks to take
  it out (HAProxy: `inter` × `fall`) — then stops gunicorn's way: the listening sockets
  close, each worker finishes the requests it has within `MADOGUCHI_GRACEFUL_SECONDS`
  (gunicorn's graceful_timeout), and exits. A second SIGTERM ends the drain at once; SIGINT
  (Ctrl-C) is gunicorn's quick stop.
"""

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from gunicorn.app.wsgiapp import WSGIApplication
from gunicorn.arbiter import Arbiter
from gunicorn.workers import gthread

DRAIN_MARK = "draining"  # as madoguchi.core.readiness.DRAIN_MARK (that module needs Django)


def seconds_from_env(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"madoguchi: {name}={raw!r} is not a number of seconds") from None
    if value < 0:
        raise SystemExit(f"madoguchi: {name}={raw!r} is negative")
    return value


def drain_seconds() -> float:
    """MADOGUCHI_DRAIN_SECONDS; by default 5 in production (behind a balancer), else 0."""
    return seconds_from_env("MADOGUCHI_DRAIN_SECONDS", 5 if os.environ.get("MADOGUCHI_ENV") == "production" else 0)


def prepare_run_dir() -> tuple[Path, bool]:
    """The run directory (created when not configured: then removed at exit) with an empty
    metrics directory and no drain mark; both put in the environment the workers inherit."""
    configured = os.environ.get("MADOGUCHI_RUN_DIR", "").strip()
    if configured:
        run_dir = Path(configured)
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    else:
        run_dir = Path(tempfile.mkdtemp(prefix="madoguchi-serve-"))
    (run_dir / DRAIN_MARK).unlink(missing_ok=True)
    metrics_dir = run_dir / "metrics"
    # A previous run's files would add its counts to this run's (prometheus-client's rule).
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(mode=0o700)
    os.environ["MADOGUCHI_RUN_DIR"] = str(run_dir)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    return run_dir, not configured


class DrainingArbiter(Arbiter):
    """gunicorn's master; SIGTERM first drains (see the module's docstring)."""

    drain_until: float | None = None

    def handle_term(self):
        drain = drain_seconds()
        if self.drain_until is not None or drain == 0:
            raise StopIteration  # gunicorn's graceful stop
        (Path(os.environ["MADOGUCHI_RUN_DIR"]) / DRAIN_MARK).touch()
        self.drain_until = time.monotonic() + drain
        self.log.info("draining for %.1f s before stopping (/readyz answers 503)", drain)

    def manage_workers(self):
        if self.drain_until is not None and time.monotonic() >= self.drain_until:
            raise StopIteration
        super().manage_workers()

    def halt(self, reason=None, exit_status=0):
        # Marked draining for the graceful stop too (kept-alive connections may still ask).
        run_dir = os.environ.get("MADOGUCHI_RUN_DIR")
        if run_dir and os.path.isdir(run_dir):
            (Path(run_dir) / DRAIN_MARK).touch()
        super().halt(reason, exit_status)


class ThreadWorker(gthread.ThreadWorker):
    """gunicorn's gthread worker that closes its listening sockets when it stops accepting
    at a graceful stop (gunicorn's keeps them open until its last request ends, so the
    kernel kept completing connections nobody would answer): once every worker has closed
    them, a new connection is refused at once and a balancer retries it elsewhere."""

    def set_accept_enabled(self, enabled):
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive:
            for listener in self.sockets:
                listener.close()


def child_exit(server, worker):
    """gunicorn's hook: a worker that exited no longer counts in the live gauges."""
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
            sys.stderr.flush()
            sys.exit(1)


def main() -> None:
    drain_seconds()  # a bad value stops the start, not the stop
    run_dir, remove = prepare_run_dir()
    try:
        Application("%(prog)s [OPTIONS] [APP_MODULE]", prog="madoguchi serve").run()
    finally:
        if remove and os.getpid() == _MASTER_PID:
            shutil.rmtree(run_dir, ignore_errors=True)


_MASTER_PID = os.getpid()

if __name__ == "__main__":
    main()
