"""Drives a resident's browser (Django test client) through an authorization request."""

import json
from urllib.parse import urlsplit

from django.test import Client

REDIRECT_HOSTS = ("library.example.jp", "univ.example.jp")


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def card_completes(code, ceremony_id, card):
    reader = Client()
    description = reader.get(f"/{code}/api/ceremonies/{ceremony_id}")
    assert description.status_code == 200, description.content
    body = card.answer(description.json())
    return reader.post(f"/{code}/api/ceremonies/{ceremony_id}/complete", json.dumps(body),
                       content_type="application/json")


def follow(browser, url: str, card=None, *, consent="allow", max_steps=12):
    """Follows the authorization through ceremonies and consent until the browser leaves for
    the relying party; returns (that URL, the consent page HTML or None, ceremony purposes)."""
    consent_page, purposes = None, []
    response = browser.get(path_of(url))
    for _ in range(max_steps):
        if response.status_code == 302:
            location = response["Location"]
            if urlsplit(location).hostname in REDIRECT_HOSTS:
                return location, consent_page, purposes
            parts = urlsplit(location).path.strip("/").split("/")
            if len(parts) == 3 and parts[1] == "ceremony":  # the QR page: the card client answers
                code, ceremony_id = parts[0], parts[2]
                from madoguchi.ceremonies.models import Ceremony

                ceremony = Ceremony.unscoped.get(public_id=ceremony_id)
                purposes.append(ceremony.purpose)
                if ceremony.purpose == "sign":
                    _sign(code, ceremony, card)
                else:
                    done = card_completes(code, ceremony_id, card)
                    assert done.status_code == 200, done.content
                response = browser.get(f"/{code}/ceremony/{ceremony_id}/finish/")
                continue
            response = browser.get(location)
            continue
        if response.status_code == 200 and b'name="decision"' in response.content:
            consent_page = response.content.decode()
            action = response.context["action"]
            response = browser.post(action, {"decision": consent})
            continue
        return response, consent_page, purposes
    raise AssertionError("too many steps")


def _sign(code, ceremony, card):
    reader = Client()
    description = reader.get(f"/{code}/api/ceremonies/{ceremony.public_id}").json()
    # The card client's own answer: it signs the content, or the registered digest.
    done = reader.post(f"/{code}/api/ceremonies/{ceremony.public_id}/complete", json.dumps(card.answer(description)),
                       content_type="application/json")
    assert done.status_code == 200, done.content
