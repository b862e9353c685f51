"""On real processes: `madoguchi worker` (the Tasks worker on the database backend) sends a
queued notice to a real SMTP server and to the local push service, both in this process."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.server import fresh_database_url, start

from .conftest import TEST_REDIS_URL, Sink, free_port
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


@pytest.mark.parametrize("backend", ["database", "rq"])
def test_several_worker_processes_send_every_delivery_of_a_fan_out_exactly_once(tmp_path, backend):
    """Two `madoguchi worker` processes on the same queue (the database backend, or RQ on
    Redis by configuration only), a fan-out of 2 × 24 deliveries in batches of 4: every mail
    and every push arrives once, none twice."""
    from aiosmtpd.controller import Controller

    sink = Sink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    extra = {}
    if backend == "rq":
        import redis

        redis.Redis.from_url(TEST_REDIS_URL).flushdb()
        extra = {"MADOGUCHI_TASKS_BACKEND": "rq", "MADOGUCHI_REDIS_URL": TEST_REDIS_URL}
    url, drop = fresh_database_url("fanout")
    server = start(tmp_path, url, MADOGUCHI_EMAIL_HOST="127.0.0.1", MADOGUCHI_EMAIL_PORT=str(smtp.port),
                   MADOGUCHI_SITE_URL="https://madoguchi.example", MADOGUCHI_NOTICES_BATCH_SIZE="4", **extra)
    push = PushService(application_server_key(tmp_path))
    devices = [push.device() for _ in range(24)]
    workers = []
    try:
        seeded = subprocess.run([sys.executable, "-m", "tests.notices.seed_fanout",
                                 json.dumps([d.subscription(push.base) for d in devices])],
                                env=server.env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert seeded.returncode == 0, seeded.stderr[-3000:]
        assert seeded.stdout.strip().splitlines()[-1] == "48"
        for n in range(2):
            log = open(tmp_path / f"worker{n}.log", "w")
            workers.append((subprocess.Popen([sys.executable, "-m", "madoguchi", "worker"], env=server.env, cwd=ROOT,
                                             stdout=log, stderr=subprocess.STDOUT), log))
        deadline = time.monotonic() + 120
        while (len(sink.messages) < 24 or len(push.received) < 24) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # a duplicate would arrive now
        logs = "".join((tmp_path / f"worker{n}.log").read_text()[-3000:] for n in range(2))
        assert push.refused == [], logs
        assert len(push.received) == 24, logs
        assert sorted(d for d, _p in push.received) == sorted(d.id for d in devices)
        assert sorted(r for rcpts, _raw in sink.messages for r in rcpts) == sorted(f"r{i}@example.jp" for i in range(24))
        assert all(w.poll() is None for w, _log in workers)  # both still running
    finally:
        for w, log in workers:
            w.terminate()
        for w, log in workers:
            try:
                w.wait(timeout=30)
            finally:
                log.close()
        push.stop()
        server.stop()
        smtp.stop()
        drop()
        if backend == "rq":
            import redis

            redis.Redis.from_url(TEST_REDIS_URL).flushdb()
