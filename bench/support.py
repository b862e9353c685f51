"""What the HTTP benchmarks share: loopback source addresses (so per-address rate limits
stay on), base64url, the demo virtual cards' keys signing in-process, and the baseline."""

import base64
import http.client
import itertools
import json
import threading
import os
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

_addresses = (f"127.0.{a}.{b}" for a, b in itertools.cycle(itertools.product(range(1, 64), range(2, 254))))
_address_lock = threading.Lock()


def next_address() -> str:
    with _address_lock:
        return next(_addresses)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftCard:
    """A demo virtual card's keys (var/cards/<name>/card.json) signing in-process: the bytes a
    card signs for `login` and `identify` (docs/ceremony.md), without APDU emulation."""

    def __init__(self, directory: Path):
        state = json.loads((Path(directory) / "card.json").read_text())["jpki"]
        self.keys = {p: serialization.load_pem_private_key(state[f"{p}_key"].encode(), None) for p in ("auth", "sign")}
        self.certs = {p: base64.b64decode(state[f"{p}_cert"]) for p in ("auth", "sign")}

    def answer(self, description: dict) -> dict:
        from madoguchi.protocol.ceremony import to_be_signed

        if description["purpose"] == "identify":  # both keys sign bytes naming both certificates
            tbs = to_be_signed(description["id"], unb64(description["challenge"]), description["audience"],
                               "identify", auth_certificate=self.certs["auth"], sign_certificate=self.certs["sign"])
        else:
            tbs = unb64(description["to_be_signed"])
        body = {"audience": description["audience"], "auth_certificate": b64(self.certs["auth"]),
                "auth_signature": b64(self.keys["auth"].sign(tbs, padding.PKCS1v15(), hashes.SHA256()))}
        if description["purpose"] == "identify":
            body["sign_certificate"] = b64(self.certs["sign"])
            body["sign_signature"] = b64(self.keys["sign"].sign(tbs, padding.PKCS1v15(), hashes.SHA256()))
        return body


def cache_env(redis_url: str) -> dict:
    """The server's environment for a shared cache in Redis (MADOGUCHI_CACHE_URL: sessions and
    rate counters there), the database flushed first; {} without one."""
    if not redis_url:
        return {}
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    return {"MADOGUCHI_CACHE_URL": redis_url}


def trivial_rate(port: int, seconds: float, concurrency: int) -> float:
    """GET /livez per second on the same server: the baseline of every HTTP benchmark."""
    count, stop, lock = [0], time.monotonic() + seconds, threading.Lock()

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        n = 0
        while time.monotonic() < stop:
            conn.request("GET", "/livez")
            conn.getresponse().read()
            n += 1
        with lock:
            count[0] += n

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return count[0] / (time.monotonic() - started)


def bench_database(sqlite: bool, name_hint: str):
    """(database URL, drop) for a benchmark server: a fresh PostgreSQL database owned by the
    application's own role (as `make test` sets it up), or (None, no-op) for SQLite."""
    if sqlite:
        return None, lambda: None
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    admin = os.environ.get("MADOGUCHI_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    app_url = subprocess.run([sys.executable, str(root / "scripts" / "pg_setup.py"), admin],
                             capture_output=True, text=True, check=True).stdout.strip()
    os.environ["MADOGUCHI_DATABASE_URL"] = app_url
    from tests.server import fresh_database_url

    return fresh_database_url(name_hint)


class CpuMeter:
    """CPU seconds (user + system, from /proc) of the server's processes (gunicorn's master
    and workers) and of the PostgreSQL backends serving its database, so a run says where
    a submission's CPU goes: the server, the database, the load generator (this process)."""

    def __init__(self, server_pid: int, database_url: str | None):
        self.server_pid, self.database_url = server_pid, database_url
        self.tick = os.sysconf("SC_CLK_TCK")

    def _cpu(self, pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / self.tick  # utime, stime

    def _tree(self) -> set[int]:
        parents = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
        found, todo = {self.server_pid}, [self.server_pid]
        while todo:
            parent = todo.pop()
            for pid, ppid in parents.items():
                if ppid == parent and pid not in found:
                    found.add(pid)
                    todo.append(pid)
        return found

    def _backends(self) -> set[int]:
        if not self.database_url:
            return set()
        import psycopg

        with psycopg.connect(self.database_url) as conn:
            rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                "AND pid <> pg_backend_pid()").fetchall()
        return {r[0] for r in rows}

    def snapshot(self) -> dict:
        server, backends = self._tree(), self._backends()
        return {"server": {p: self._cpu(p) for p in server}, "database": {p: self._cpu(p) for p in backends},
                "client": time.process_time()}

    @staticmethod
    def spent(before: dict, after: dict) -> dict:
        out = {"client": after["client"] - before["client"]}
        for part in ("server", "database"):
            out[part] = sum(v - before[part].get(p, 0.0) for p, v in after[part].items())
        return out
