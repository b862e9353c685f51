"""Card paths: the ways a card reaches a ceremony from its waiting page.

A plug point (madoguchi.registry): `CardPath` is the base, `CARD_PATHS` the registry by
name. The waiting page shows every path that is offered for the ceremony, each by its own
template (given `path`: its context); a path that answers in the page itself (the demo's
virtual card) receives the page's POST through `answer`. Paths today: the card client by
QR code or link (client.py) and, in the demo only, a virtual card read in the page
(demo.py); a second card path (a citizen-card service) is one more.
"""

from django.http import Http404
from django.shortcuts import render

from madoguchi.registry import Registry

from .. import errors


class CardPath:
    template = ""  # the waiting page's part for this path

    def offered(self, request, ceremony) -> bool:
        return True

    def context(self, request, ceremony) -> dict:
        return {}

    def answer(self, request, ceremony_id: str):
        """The page's own POST (only for a path that reads the card in the page)."""
        raise Http404


CARD_PATHS: Registry[CardPath] = Registry("card path")


def error_page(request, exc: errors.CeremonyError):
    return render(request, "ceremonies/error.html", {"error": exc}, status=exc.status)
