"""On real processes: `madoguchi worker` (the Tasks worker on the database backend) sends a
queued notice to a real SMTP server and to the local push service, both in this process."""

import json
import subprocess
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from tests.server import fresh_database_url, start

from .conftest import Sink, free_port
from .pushservice import PushService, b64

ROOT = Path(__file__).resolve().parents[2]


def application_server_key(data_dir: Path) -> str:
    key = serialization.load_pem_private_key((data_dir / "vapid" / "139998.pem").read_bytes(), password=None)
    return b64(key.public_key().public_bytes(serialization.Encoding.X962,
                                             serialization.PublicFormat.UncompressedPoint))


def test_the_worker_process_delivers_by_mail_and_push(tmp_path):
    from aiosmtpd.controller import Controller

    sink = Sink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    url, drop = fresh_database_url("notices")
    server = start(tmp_path, url, MADOGUCHI_EMAIL_HOST="127.0.0.1", MADOGUCHI_EMAIL_PORT=str(smtp.port),
                   MADOGUCHI_SITE_URL="https://madoguchi.example")
    push = PushService(application_server_key(tmp_path))  # the key `madoguchi demo` created
    device = push.device()
    worker = None
    try:
        seeded = subprocess.run([sys.executable, "-m", "tests.notices.seed", json.dumps(device.subscription(push.base)),
                                 "shiken@example.jp"], env=server.env, cwd=ROOT, capture_output=True, text=True,
                                timeout=120)
        assert seeded.returncode == 0, seeded.stderr[-3000:]
        assert len(json.loads(seeded.stdout.strip().splitlines()[-1])) == 2
        with open(tmp_path / "worker.log", "w") as log:
            worker = subprocess.Popen([sys.executable, "-m", "madoguchi", "worker"], env=server.env, cwd=ROOT,
                                      stdout=log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 60
            while (not sink.messages or not push.received) and time.monotonic() < deadline:
                time.sleep(0.2)
        assert push.refused == []
        assert [(d, p["title"], p["category"]) for d, p in push.received] == [
            (device.id, "申請内容の補正をお願いします", "防災・緊急")]
        (rcpts, raw), = sink.messages
        assert rcpts == ["shiken@example.jp"] and b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=20)
        push.stop()
        server.stop()
        smtp.stop()
        drop()
