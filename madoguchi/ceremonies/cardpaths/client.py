"""The card client by QR code or link: a phone app, or `madoguchi card ceremony` on a
computer with a reader, fetches and completes the ceremony through the ceremony API."""

import segno

from .. import callers
from .base import CARD_PATHS, CardPath


class CardClient(CardPath):
    template = "ceremonies/cardpaths/client.html"

    def context(self, request, ceremony) -> dict:
        client_url, _ = callers.urls_for(request, ceremony.municipality.code, ceremony.public_id)
        qr = segno.make(client_url, error="m").svg_data_uri(scale=5, border=2, dark="#1a1a1a")
        return {"client_url": client_url, "qr": qr}


CARD_PATHS.register("card-client", "a card client (phone app or `madoguchi card ceremony`) by QR code or link")(
    CardClient())
