"""The graceful stop of a real server (`madoguchi serve`: gunicorn through
madoguchi/core/serving.py): a SIGTERM during a slow request drains — /readyz 503, every other
URL answering — then refuses new connections, finishes the request in flight and exits 0."""

import json
import re
import signal
import socket
import time
import urllib.error
import urllib.request

import pytest

from tests.server import fresh_database_url, start


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def server_db():
    url, drop = fresh_database_url("graceful")
    yield url
    drop()


def test_sigterm_drains_then_finishes_the_request_in_flight(tmp_path, server_db):
    database_url = server_db or f"sqlite:///{tmp_path / 'graceful.sqlite3'}"
    server = start(tmp_path, database_url, workers=1, MADOGUCHI_DRAIN_SECONDS="2")
    code = re.search(r"resident portal: http://[^/]+/(\d{6})/", server.demo_output).group(1)
    port = int(server.base_url.rsplit(":", 1)[1])
    mark = tmp_path / "run" / str(port) / "draining"
    try:
        assert get(server.base_url + "/readyz")[0] == 200
        assert not mark.exists()
        # A slow client: the card client's answer arrives in two parts, the second after the
        # SIGTERM. The view cannot answer before it has the whole body.
        body = json.dumps({"certificate": "A" * 4000, "signature": "B" * 4000}).encode()
        slow = socket.create_connection(("127.0.0.1", port), timeout=30)
        slow.sendall((f"POST /{code}/api/ceremonies/{'x' * 43}/complete HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                      ).encode() + body[:100])
        time.sleep(0.5)  # the worker has the request and waits for the rest of the body
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)

        # Draining: /readyz says 503 so the balancer stops sending; the rest still answers.
        time.sleep(0.3)
        status, answer = get(server.base_url + "/readyz")
        assert status == 503, answer
        assert "stopping" in json.loads(answer)["drain"]
        assert get(server.base_url + "/livez")[0] == 200

        # After the drain the listening socket is closed: a new connection is refused…
        refused = False
        while time.monotonic() - started < 8:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except ConnectionRefusedError:
                refused = True
                break
            time.sleep(0.1)
        assert refused, "the server kept accepting after its drain"
        assert time.monotonic() - started >= 1.5  # …not before the drain period
        assert server.process.poll() is None  # …while the request in flight keeps it running

        # …and the slow request still gets its whole answer: the view parsed the whole body
        # (it names a field the test's body lacks).
        slow.sendall(body[100:])
        response = b""
        while chunk := slow.recv(65536):
            response += chunk
        slow.close()
        head, _, payload = response.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 4"), head
        assert json.loads(payload)["code"]
        assert server.process.wait(timeout=15) == 0
    finally:
        server.stop()
    assert "Traceback" not in open(server.log_path).read()
    assert mark.exists()  # the next start removes it
