"""The card client by QR code or link: a phone app, or `madoguchi card ceremony` on a
computer with a reader, fetches and completes the ceremony through the ceremony API."""

from urllib.parse import quote

import segno
from django.conf import settings

from .. import callers
from .base import CARD_PATHS, CardPath


class CardClient(CardPath):
    template = "ceremonies/cardpaths/client.html"
    label = "カード読み取りアプリ（QRコード・リンク、PC/SCリーダー）"

    def context(self, request, ceremony) -> dict:
        client_url, _ = callers.urls_for(request, ceremony.municipality.code, ceremony.public_id)
        qr = segno.make(client_url, error="m").svg_data_uri(scale=5, border=2, dark="#1a1a1a")
        return {"client_url": client_url, "qr": qr, "app_link": app_link(client_url)}


def app_link(client_url: str) -> str:
    """The link that opens the card-reading app for this ceremony (settings.CARD_APP_LINK)."""
    return settings.CARD_APP_LINK.replace("{url}", quote(client_url, safe=""))


CARD_PATHS.register("card-client", "a card client (phone app or `madoguchi card ceremony`) by QR code or link")(
    CardClient())
