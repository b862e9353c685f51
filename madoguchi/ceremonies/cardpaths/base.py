"""Card paths: the ways a card reaches a ceremony from its waiting page.

A plug point (madoguchi.registry): `CardPath` is the base, `CARD_PATHS` the registry by
name. The waiting page shows every path that is offered for the ceremony, each by its own
template (given `path`: its context); a path that answers in the page itself (the demo's
virtual card) receives the page's POST through `answer`. Paths today: the card client by
QR code or link (client.py), the national authentication app (madoguchi/natapp registers
`national-app`) and, in the demo only, a virtual card read in the page (demo.py).

Each municipality chooses the paths it offers (`CardPathSetting`, `madoguchi card_paths`;
without a choice settings.CARD_PATHS_ENABLED). A path not enabled is neither shown nor
able to complete a ceremony (`path_not_enabled`). docs/card_paths.md.
"""

from django.conf import settings
from django.http import Http404
from django.shortcuts import render

from madoguchi.registry import Registry

from .. import errors


class CardPath:
    template = ""  # the waiting page's part for this path
    label = ""  # what the municipality's operator sees in `madoguchi card_paths`

    def offered(self, request, ceremony) -> bool:
        return True

    def context(self, request, ceremony) -> dict:
        return {}

    def form_action_origins(self, request, ceremony) -> tuple[str, ...]:
        """Origins the path's form is redirected to (the page's CSP form-action must allow
        them: browsers check the redirects of a form's POST)."""
        return ()

    def answer(self, request, ceremony_id: str):
        """The page's own POST (only for a path that reads the card in the page)."""
        raise Http404


CARD_PATHS: Registry[CardPath] = Registry("card path")


def error_page(request, exc: errors.CeremonyError):
    return render(request, "ceremonies/error.html", {"error": exc}, status=exc.status)


def enabled_paths(municipality) -> list[str]:
    """The card paths `municipality` offers: its own choice, else the installation's default."""
    from ..models import CardPathSetting

    chosen = CardPathSetting.unscoped.filter(municipality=municipality).values_list("enabled", flat=True).first()
    names = chosen if chosen is not None else settings.CARD_PATHS_ENABLED
    return [name for name in names if name in CARD_PATHS]


def offered_paths(request, ceremony) -> list:
    """The registry's entries enabled for the ceremony's municipality and offered for it."""
    enabled = set(enabled_paths(ceremony.municipality))
    return [entry for entry in CARD_PATHS.entries()
            if entry.name in enabled and entry.implementation.offered(request, ceremony)]
