"""The plug point of card services: a `CardService` describes itself in machine-readable form;
`SERVICES` is the one registry; implementations register under a short name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from madoguchi.registry import Registry


@dataclass(frozen=True)
class CardService:
    """What a card service is, machine-readable (exported as JSON).

    `needs_pin`: whether using it at a terminal asks for the card's PIN (a gate admitting a
    ticket does not: presence of the card and its certificate, as the `presence` ceremony).
    `offline`: whether a terminal decides without the server (against a synced allow-list
    and revocation index). `demo`: a development stand-in says so.
    """

    key: str
    title: str  # Japanese, shown to residents
    description: str
    needs_pin: bool
    offline: bool
    demo: bool = False
    data: tuple[str, ...] = field(default=())  # what the service keeps about a resident
    portal: str = ""  # the URL name of the resident's page of a service built in its own app

    def as_json(self) -> dict:
        return {
            "key": self.key, "title": str(self.title), "description": str(self.description),
            "needs_pin": self.needs_pin, "offline": self.offline, "demo": self.demo,
            "data": list(self.data),
        }


SERVICES: Registry[CardService] = Registry("card service")


def register(service: CardService, description: str) -> CardService:
    SERVICES.register(service.key, description)(service)
    return service


@dataclass(frozen=True)
class TerminalHooks:
    """What an app that serves a card service at terminals plugs in (madoguchi.attendance):
    `allow_list(terminal)` → the card keys (ints) its terminal admits offline;
    `settle(terminal, event)` → the server's outcome of one new event (a value of
    `TerminalEvent.Outcome`), called once per event, in the transaction that stores it.
    The app imports citizencard, never the reverse: the hooks are looked up by service key."""

    allow_list: Callable
    settle: Callable


TERMINAL_HOOKS: Registry[TerminalHooks] = Registry("terminal service")
