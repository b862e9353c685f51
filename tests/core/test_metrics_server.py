"""/metrics and /readyz from a real `madoguchi serve` with two gunicorn workers: the counters
of both workers add up in one scrape (Prometheus multiprocess mode), and the drain file
turns /readyz to 503 while /livez stays 200."""

import re
import urllib.error
import urllib.request

from tests.server import fresh_database_url, start


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_two_workers_counted_in_one_scrape_and_a_node_drained(tmp_path):
    url, drop = fresh_database_url("metrics")
    server = start(tmp_path, url, workers=2)
    try:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(8) as pool:  # at once: the kernel hands connections to both workers
            assert set(pool.map(lambda _: get(server.base_url + "/livez")[0], range(80))) == {200}
        status, text = get(server.base_url + "/metrics")
        assert status == 200
        count = re.search(r'madoguchi_http_request_duration_seconds_count\{method="GET",status="2xx",view="livez"\} '
                          r'([0-9.]+)', text)
        assert count and float(count.group(1)) >= 80  # every request (and the start-up check), whichever worker
        assert get(server.base_url + "/readyz") == (200, '{"status": "ready"}')
        (tmp_path / "drain").touch()
        status, body = get(server.base_url + "/readyz")
        assert status == 503 and "draining" in body and get(server.base_url + "/livez")[0] == 200
    finally:
        server.stop()
        drop()
