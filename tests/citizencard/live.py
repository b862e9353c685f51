"""A live server seeded for the terminal tests: migrated, a terminal key made with `madoguchi
terminal keygen`, a seed module run with the server's environment (it registers the terminal
with that key and prints JSON), then the server started."""

import contextlib
import json
import subprocess
import sys
from pathlib import Path

from tests.server import fresh_database_url, madoguchi, server_env, start

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def seeded_server(tmp_path, seed_module: str, name: str):
    """Yields (server, the seed's JSON, the terminal key's path, the database URL)."""
    url, drop = fresh_database_url(name)
    try:
        env = server_env(tmp_path, url)
        madoguchi(env, "migrate")
        key = tmp_path / "gate.pem"
        made = subprocess.run([sys.executable, "-m", "madoguchi", "terminal", "keygen", "--out", str(key)], env=env,
                              capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stderr
        (tmp_path / "gate.pub").write_text(made.stdout)
        seeded = subprocess.run([sys.executable, "-m", seed_module, str(tmp_path), str(tmp_path / "cards"),
                                 str(tmp_path / "gate.pub")], env=env, cwd=ROOT, capture_output=True, text=True,
                                timeout=300)
        assert seeded.returncode == 0, seeded.stderr[-3000:]
        seed = json.loads(seeded.stdout.strip().splitlines()[-1])
        server = start(tmp_path, url, prepare=False)
        try:
            yield server, seed, key, url
        finally:
            server.stop()
    finally:
        drop()
