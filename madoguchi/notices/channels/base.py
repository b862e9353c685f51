"""Delivery channels: how one Delivery reaches the resident (a plug point, madoguchi.registry).

A channel is one class registered in DELIVERY_CHANNELS: `recipients(persons)` says which
of the persons it can reach now (a verified address, a device), `send(delivery, message)`
sends one message, raising PermanentFailure (the address or device is gone: never retried;
`forget` is told) or TransientFailure (retried with backoff). Any other exception counts
as transient too, so a poison message fails alone after its attempts.
"""

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

from madoguchi.registry import Registry


class PermanentFailure(Exception):
    """The recipient cannot be reached through this channel (SMTP 5xx, push 404/410)."""


class TransientFailure(Exception):
    """Try again later (a 4xx SMTP answer, a refused connection, a 5xx push service)."""


@dataclass(frozen=True)
class Message:
    """What a notice carries: a title, the category and a link. Nothing personal."""

    title: str
    category_label: str
    url: str


class DeliveryChannel:
    name = ""

    def recipients(self, person_ids: Iterable[int]) -> set[int]:
        """The persons (of the municipality in scope) this channel can reach."""
        raise NotImplementedError

    def reachable(self):
        """Optional: a query of the `person_id`s (of the municipality in scope) this channel
        can reach, which a large fan-out evaluates inside the database instead of sending
        `recipients` a list of ids. None: the engine asks `recipients`."""
        return None

    def send(self, delivery, message: Message) -> None:
        raise NotImplementedError

    def forget(self, delivery, reason: str) -> None:
        """A permanent failure: stop using the address or device the delivery went to."""

    def prepare(self, deliveries) -> None:
        """Before the sends of a batch: read what they need in one query (optional)."""

    def batch(self):
        """A context around the sends of one batch (an SMTP connection, an HTTP session kept
        open for it); sends outside one still work."""
        return contextlib.nullcontext()


DELIVERY_CHANNELS: Registry[type[DeliveryChannel]] = Registry("delivery channel")
