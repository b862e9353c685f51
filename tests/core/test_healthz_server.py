"""/healthz against a real server whose database is really unreachable."""

import json
import urllib.error
import urllib.request

import pytest

from tests.server import start


def test_healthz_is_503_when_the_database_is_down(tmp_path):
    # Nothing listens on port 1: the database is down while the server runs.
    server = start(tmp_path, "postgresql://nobody@127.0.0.1:1/none", prepare=False)
    try:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(server.base_url + "/healthz", timeout=30)
        assert info.value.code == 503
        assert json.loads(info.value.read()) == {"status": "unavailable", "database": "down"}
        with urllib.request.urlopen(server.base_url + "/livez", timeout=10) as live:
            assert live.status == 200
    finally:
        server.stop()
