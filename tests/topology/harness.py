"""scripts/topology driven from Python: a fresh PostgreSQL database and Redis database, a
name, subnet and port of its own (so it can run beside another), `up`, `kill`, `down`.
Used by tests/topology and bench/load.py."""

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

from tests.server import fresh_database_url

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "topology"


def free_port_pair() -> int:
    """A port for the balancer and the next one for its statistics, both free on loopback."""
    for _ in range(200):
        port = 18700 + secrets.randbelow(99)
        try:
            for p in (port, port + 1):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair in 18700-18799")


class Topology:
    def __init__(self, tmp: Path, app_workers: int = 1, **extra_env):
        import redis

        self.database_url, self.drop = fresh_database_url("topology")
        self.redis_url = f"redis://127.0.0.1:6379/{os.environ.get('MADOGUCHI_TEST_REDIS_DB', '1')}"
        redis.Redis.from_url(self.redis_url).flushdb()
        self.name = f"t{secrets.token_hex(2)}"
        self.port = free_port_pair()
        self.dir = tmp
        self.data_dir = tmp / "data"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("MADOGUCHI_", "TOPOLOGY_"))}
        self.env.update({
            "MADOGUCHI_ENV": "dev", "MADOGUCHI_LOG_LEVEL": "WARNING", "MADOGUCHI_DATA_DIR": str(self.data_dir),
            "MADOGUCHI_DATABASE_URL": self.database_url, "MADOGUCHI_REDIS_URL": self.redis_url,
            # One resident submits them all: the per-resident limit is the load's, not the subject.
            "MADOGUCHI_APPLICATION_API_RATE": "100000",
            "TOPOLOGY_DIR": str(tmp), "TOPOLOGY_NAME": self.name,
            "TOPOLOGY_SUBNET": f"10.77.{2 + secrets.randbelow(250)}", "TOPOLOGY_PORT": str(self.port),
            "TOPOLOGY_APP_WORKERS": str(app_workers), "PYTHON": sys.executable,
        })
        self.env.update(extra_env)

    def script(self, *args, timeout=300) -> str:
        result = subprocess.run([str(SCRIPT), *args], env=self.env, cwd=ROOT, capture_output=True, text=True,
                                timeout=timeout)
        assert result.returncode == 0, f"scripts/topology {' '.join(args)}: {result.stderr[-3000:]}"
        return result.stdout

    def madoguchi(self, *args, namespace: str | None = None) -> str:
        command = [sys.executable, "-m", "madoguchi", *args]
        if namespace:
            command = ["ip", "netns", "exec", f"topo-{self.name}-{namespace}", *command]
        result = subprocess.run(command, env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"madoguchi {' '.join(args)}: {result.stderr[-2000:]}"
        return result.stdout

    def logs(self) -> str:
        out = []
        for name in ("app1", "app2", "worker1", "worker2", "haproxy", "prepare"):
            path = self.dir / f"{name}.log"
            if path.exists():
                out.append(f"--- {name}.log\n" + path.read_text(errors="replace")[-3000:])
        return "\n".join(out)

    def down(self) -> None:
        """Everything goes, whatever state it is in: processes, namespaces, links, the
        database, the Redis database."""
        import redis

        try:
            subprocess.run([str(SCRIPT), "down"], env=self.env, cwd=ROOT, capture_output=True, timeout=120)
        finally:
            self.drop()
            redis.Redis.from_url(self.redis_url).flushdb()
