"""The payment provider plug point: one interface, implementations by name (madoguchi.registry).

A provider takes a payment to its hosted page (`checkout`), tells its result when asked
(`fetch`: the status is confirmed with the provider, never taken from the browser's
return) and refunds. `PAYMENT_PROVIDER` (`MADOGUCHI_PAYMENT_PROVIDER`) names the one a
municipality uses; `PAYMENT_PROVIDERS` maps a municipality code to another name.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from madoguchi.registry import Registry, UnknownName


@dataclass(frozen=True)
class Checkout:
    reference: str  # the provider's reference of the checkout
    redirect_url: str  # where the resident's browser goes to pay


@dataclass(frozen=True)
class Settlement:
    """One transaction the provider settled (reconciliation, 収納消込)."""

    kind: str  # "charge" or "refund"
    reference: str  # what our records call it: the checkout's reference (charge) or the refund's
    amount_yen: int  # what moved, positive for both kinds
    fee_yen: int  # the provider's fee on it
    currency: str  # "jpy"; anything else is reported as an amount difference
    transaction: str = ""  # the provider's id of the settled transaction
    settled_at: dt.datetime | None = None


class Provider:
    """A payment provider. Constructed per use; a provider that may not run here raises
    ImproperlyConfigured from its constructor."""

    # The origins of the provider's hosted page: the 「お支払い」 form's POST is redirected
    # there, so the page's CSP form-action must allow them (browsers check redirects).
    form_action_origins: tuple[str, ...] = ()

    def checkout(self, payment, *, return_url: str) -> Checkout:
        raise NotImplementedError

    def fetch(self, payment) -> str:
        """The provider's status of the payment's checkout: pending, succeeded, failed,
        expired or cancelled."""
        raise NotImplementedError

    def refund(self, payment, amount_yen: int, *, idempotency_key: str) -> str:
        """Refunds `amount_yen` of a succeeded payment; returns the provider's refund reference.
        Called outside any database transaction, perhaps again after a failure or a timeout:
        the same `idempotency_key` must give the same refund, never a second one. Raises
        RefundRefused when the provider refuses it for good (retrying would not help); any
        other exception leaves the refund requested, for a retry."""
        raise NotImplementedError

    def settlements(self, municipality, day: dt.date, *, start: dt.datetime, end: dt.datetime) -> Iterable[Settlement]:
        """The transactions the provider settled for the municipality in [start, end) — the
        day `day` in Japan — charges and refunds of our payments, and any it cannot tie to one
        (their reference is then the provider's own). Used by payments.reconciliation."""
        raise NotImplementedError


    def expire(self, payment) -> None:
        """Closes an abandoned checkout at the provider so it can no longer be paid (the
        worker's sweep). A checkout paid or closed meanwhile is left as it is: the caller
        asks `fetch` afterwards."""
        raise NotImplementedError


class RefundRefused(Exception):
    """The provider refused a refund for good (not an outage): the refund is marked failed."""


PROVIDERS: Registry[type[Provider]] = Registry("payment provider")


def name_for(municipality) -> str:
    return getattr(settings, "PAYMENT_PROVIDERS", {}).get(municipality.code) or settings.PAYMENT_PROVIDER


def get(name: str) -> Provider:
    try:
        return PROVIDERS.get(name)()
    except UnknownName as exc:
        raise ImproperlyConfigured(f"PAYMENT_PROVIDER: {exc}") from None
