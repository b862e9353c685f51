"""A headless resident against a real server process (tests/server.py): a requests session
as the browser, the real card client (`madoguchi card ceremony`, a subprocess with the
demo's virtual card) as the phone, and htmx's polling done by hand — the status fragment
answers `HX-Redirect` when the card has answered. What docs/oidc.md shows a developer."""

import re
import subprocess
import sys
import time
from html import unescape
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests

CODE = "139998"
# A server for a headless resident: Python's cookie jar sends no Secure cookie over plain
# http (a browser does, on 127.0.0.1), and one address makes many authorization requests.
LIVE_ENV = {"MADOGUCHI_SECURE_COOKIES": "0", "MADOGUCHI_OIDC_AUTHORIZE_RATE": "100000",
            "MADOGUCHI_OIDC_TOKEN_RATE": "100000"}
PIN, PASSWORD = "1234", "MADO2026"


def card_client(server, url: str, card: str = "taro"):
    result = subprocess.run([sys.executable, "-m", "madoguchi", "card", "ceremony", url, "--card", card, "--yes",
                             "--pin", PIN, "--password", PASSWORD], env=server.env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return result


class Resident:
    """The resident's browser. follow(url) walks the authorization through card ceremonies
    and consent until the browser leaves the server; returns (that URL, what it saw)."""

    def __init__(self, server):
        self.server = server
        self.http = requests.Session()
        self.ceremonies: list[str] = []  # the wait pages met, in order
        self.consent_pages: list[str] = []

    def follow(self, url: str, *, consent: str = "allow", max_steps: int = 20):
        self.ceremonies, self.consent_pages = [], []
        response = self.http.get(url, allow_redirects=False)
        for _ in range(max_steps):
            if response.status_code in (301, 302, 303):
                location = urljoin(response.url, response.headers["Location"])
                if not location.startswith(self.server.base_url):
                    return location  # back at the relying party
                if re.search(rf"/{CODE}/ceremony/[^/]+/$", urlsplit(location).path):
                    response = self._ceremony(location)
                    continue
                response = self.http.get(location, allow_redirects=False)
                continue
            if response.status_code == 200 and 'name="decision"' in response.text:
                self.consent_pages.append(response.text)
                action = unescape(re.search(r'<form method="post" action="([^"]*)"', response.text).group(1))
                token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text).group(1)
                response = self.http.post(urljoin(response.url, action),
                                          data={"csrfmiddlewaretoken": token, "decision": consent},
                                          headers={"Referer": response.url}, allow_redirects=False)
                continue
            return response
        raise AssertionError("too many steps")

    def _ceremony(self, wait_url: str):
        page = self.http.get(wait_url)
        assert page.status_code == 200, page.text[:500]
        client_url = unescape(re.search(r'id="client-url" type="text" readonly value="([^"]+)"', page.text).group(1))
        self.ceremonies.append(wait_url)
        card_client(self.server, client_url)
        status_url = wait_url + "status/"
        for _ in range(50):  # what htmx does every 2 seconds
            status = self.http.get(status_url, headers={"HX-Request": "true"})
            if "HX-Redirect" in status.headers:
                return self.http.get(urljoin(wait_url, status.headers["HX-Redirect"]), allow_redirects=False)
            time.sleep(0.2)
        raise AssertionError("the ceremony never completed")


def query(url: str) -> dict:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
