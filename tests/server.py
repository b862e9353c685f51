"""A real madoguchi server process for tests: migrate, demo, gunicorn (and the worker)."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field


def free_port() -> int:
    """A loopback port free now, and outside the kernel's ephemeral range when it can be: the
    server binds it seconds later (after migrate and demo) and must not lose it meanwhile to an
    outgoing connection's local port — the way CI once lost vpcd's reader (docs/card.md).
    Random, so the SQLite and PostgreSQL halves of `make test` do not pick the same one."""
    import secrets

    from madoguchi.card.vpcd import ephemeral_ports

    ephemeral_start = ephemeral_ports().start
    # 20000-23999: below Linux's default ephemeral range, away from vpcd's private ports
    # (madoguchi.card.vpcd.quiet_port) and the balancer's (tests/topology).
    if ephemeral_start > 24000:
        for _ in range(100):
            port = 20000 + secrets.randbelow(4000)
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL if it has not ended within `timeout` seconds (servers, workers,
    pcscd: every process a test starts)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_env(data_dir, database_url: str | None = None, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    env.update({"MADOGUCHI_ENV": "dev", "MADOGUCHI_DATA_DIR": str(data_dir), "MADOGUCHI_LOG_LEVEL": "WARNING"})
    if database_url:
        env["MADOGUCHI_DATABASE_URL"] = database_url
    env.update(extra)
    return env


@dataclass
class Server:
    base_url: str
    process: subprocess.Popen
    demo_output: str = ""
    log_path: str = ""
    totp_secrets: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)

    def stop(self):
        stop_process(self.process)


def madoguchi(env, *args, timeout=180):
    result = subprocess.run([sys.executable, "-m", "madoguchi", *args], env=env, capture_output=True,
                            text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"madoguchi {' '.join(args)} failed ({result.returncode}): {result.stderr[-2000:]}")
    return result.stdout


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not answer at {url} within {timeout}s")


def start(data_dir, database_url=None, *, command="serve", prepare=True, log_path=None, workers=1,
          **extra_env) -> Server:
    env = server_env(data_dir, database_url, **extra_env)
    port = free_port()
    demo = ""
    if prepare:
        madoguchi(env, "migrate")
        demo = madoguchi(env, "demo", "--base-url", f"http://127.0.0.1:{port}")
    log_path = log_path or os.path.join(str(data_dir), "server.log")
    log = open(log_path, "w")
    process = subprocess.Popen([sys.executable, "-m", "madoguchi", command, "--port", str(port), "--workers", str(workers)],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", process, demo, log_path, env=env)
    for user, secret in re.findall(r"otpauth://totp/madoguchi%3A([^?]+)\?secret=([A-Z2-7]+)", demo):
        server.totp_secrets[user] = secret
    try:
        wait_until_up(server.base_url + "/livez", process)
    except Exception:
        server.stop()
        raise
    return server


def fresh_database_url(name_hint: str) -> tuple[str | None, callable]:
    """A new, empty database for a server process, like the suite's own: PostgreSQL when
    the suite runs on PostgreSQL (created by the application's role), else None (SQLite
    in the server's data directory). Returns (url, drop)."""
    url = os.environ.get("MADOGUCHI_DATABASE_URL", "")
    if not url.startswith("postgres"):
        return None, lambda: None
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    # Parallel runs on one server may each be told to name theirs apart.
    prefix = os.environ.get("MADOGUCHI_TEST_EXTRA_DATABASE_PREFIX", "madoguchi_")
    name = f"{prefix}{name_hint}_{uuid.uuid4().hex[:8]}"
    parts = urlsplit(url)
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    database_url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))

    def drop():
        from tests.individual_numbers import scan_before_drop

        scan_before_drop(database_url)  # for the after-the-suite scan (tests/last)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return database_url, drop


_TOTP_LAST_STEP: dict[str, int] = {}


def totp_code(secret_b32: str) -> str:
    """A code the server accepts now. django-otp refuses a step already used (replay) and
    accepts one step ahead (tolerance 1), so a second sign-in within the same 30 s takes the
    next step's code — and a third waits for the clock, instead of failing at random."""
    import time
    from base64 import b32decode

    from django_otp.oath import TOTP

    totp = TOTP(b32decode(secret_b32))
    step = max(totp.t(), _TOTP_LAST_STEP.get(secret_b32, -1) + 1)
    while step > totp.t() + 1:
        time.sleep(0.5)
    _TOTP_LAST_STEP[secret_b32] = step
    totp.time = step * totp.step
    return f"{totp.token():06d}"
