"""`madoguchi serve --proxy-protocol-from` (MADOGUCHI_PROXY_PROTOCOL_FROM) on a real server:
behind HAProxy's `send-proxy` the resident's address from the PROXY header is the request's
(the per-address limits count residents, not the balancer); a PROXY header from an address
not named is refused, so nobody else can choose their own address."""

import socket

import pytest

from tests.server import fresh_database_url, start

BALANCER = "127.0.0.2"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url, drop = fresh_database_url("proxy")
    running = start(tmp_path_factory.mktemp("proxy"), url, MADOGUCHI_PROXY_PROTOCOL_FROM=BALANCER)
    yield running
    running.stop()
    drop()


def status(server, client: str | None, source: str = BALANCER) -> int:
    """One request, from `source`, with a PROXY header naming `client` (none: plain HTTP)."""
    port = int(server.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0)) as sock:
        header = f"PROXY TCP4 {client} 127.0.0.1 40000 {port}\r\n".encode() if client else b""
        sock.sendall(header + b"GET /139998/oidc/authorize?client_id=x&response_type=code HTTP/1.1\r\n"
                              b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


def test_the_proxy_header_names_the_client(server):
    # 60 authorization requests per minute and address: the 61st from one resident is refused…
    answers = [status(server, "198.51.100.7") for _ in range(61)]
    assert answers[:60] == [400] * 60 and answers[60] == 429
    # …while another resident behind the same balancer is not.
    assert status(server, "198.51.100.8") == 400
    assert status(server, None) == 400  # the balancer's own health checks: plain HTTP still works


def test_a_proxy_header_from_anyone_else_is_refused(server):
    assert status(server, "198.51.100.9", source="127.0.0.3") == 403  # gunicorn: ForbiddenProxyRequest
    assert status(server, None, source="127.0.0.3") == 400  # plain HTTP from it is served as before
