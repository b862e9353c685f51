"""`madoguchi library sip2` as an operator runs it: a real process on a real port."""

import datetime as dt
import os
import socket
import subprocess
import sys

from madoguchi.library import sip2


def environment(data):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    env.update({"MADOGUCHI_ENV": "dev", "MADOGUCHI_DATA_DIR": str(data)})
    return env


def run(*args, data):
    return subprocess.run([sys.executable, "-m", "madoguchi", *args], env=environment(data),
                          capture_output=True, text=True, timeout=180)


def reply(sock) -> bytes:
    data = b""
    while not data.endswith(b"\r"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_the_listener_process_answers_and_survives_bad_input(tmp_path):
    data = tmp_path / "data"
    assert run("migrate", data=data).returncode == 0
    demo = run("demo", data=data)
    assert demo.returncode == 0, demo.stderr
    printed = [line for line in demo.stdout.splitlines() if "/api/library/chuo/patron" in line]
    assert printed and "Bearer lib_demo_" in printed[0]
    credential = printed[0].rsplit("Bearer ", 1)[1].strip()
    again = run("demo", data=data)  # idempotent: the same credential printed again
    assert again.returncode == 0 and f"Bearer {credential}" in again.stdout
    for bad in (["library", "sip2", "--municipality", "000000", "--port", "0"],
                ["library", "sip2", "--municipality", "139998", "--port", "nope"],
                ["library", "sip2", "--municipality", "139998", "--port", "70000"], ["library"]):
        result = run(*bad, data=data)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, (bad, result.stderr)
    process = subprocess.Popen([sys.executable, "-m", "madoguchi", "library", "sip2", "--municipality", "139998",
                                "--port", "0"], env=environment(data), stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("SIP2 listening on 127.0.0.1:"), line
        port = int(line.split(":")[1].split()[0])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"\x00\xff garbage\r")
            assert reply(sock) == sip2.RESEND
            body = (f"23001{sip2.transaction_date(dt.datetime.now(dt.timezone.utc))}"
                    f"AOnowhere|AA0123456789abcdef|ACx|AD|AY7AZ").encode()
            sock.sendall(body + sip2.checksum(body).encode() + b"\r")
            answer = reply(sock)
            assert answer.startswith(b"24YYYY") and b"BLN|" in answer and b"AY7AZ" in answer
            assert sip2.checksum_ok(answer[:-1])
            # The demo library with its printed credential: accepted; this card is not linked.
            body = (f"23001{sip2.transaction_date(dt.datetime.now(dt.timezone.utc))}"
                    f"AOchuo|AA0123456789abcdef|AC{credential}|AD|").encode()
            sock.sendall(body + b"\r")
            answer = reply(sock)
            assert b"BLN|" in answer and "登録されていません".encode() in answer
            assert "認証情報".encode() not in answer and b"AZ" not in answer  # no AY: no checksum
        assert process.poll() is None  # still serving
    finally:
        process.terminate()
        process.wait(timeout=30)
