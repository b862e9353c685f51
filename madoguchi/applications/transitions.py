"""Transition listeners: the one way other apps follow an application's state.

Every write of the state machine (a submission, a review decision, a withdrawal, a
correction) publishes its transitions to the listeners registered here, inside the
transaction that writes them. A submission's first transition is draft → submitted (then
→ payment required when a fee is due): one call gets the transitions of one write, in
order, all of one application.

A plug point like the others (madoguchi.registry): a listener is a callable registered
under a name, in the `AppConfig.ready()` of the app it belongs to — documents issues the
receipt and the decision notice, the notices listener tells the resident through the
notice channels; payments and benefit runs will be more. `applications` imports none of
them.

A listener runs inside the transition's transaction: what it writes commits or rolls back
with the transition, and **an exception it raises rolls the whole transition back** (the
application, its history, its audit events and every other listener's writes) and reaches
the caller. That keeps "all or nothing" true of a transition and what follows from it; a
listener therefore does only quick database work and defers anything slow or external
(rendering a PDF, sending a message) to a task enqueued in the same transaction, which the
Tasks worker runs once it has committed.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from madoguchi.registry import Registry


@dataclass(frozen=True)
class Transition:
    """One transition just written. `application` is the row (its status that of the last
    transition of the write); `actor` is the resident (a Person) for role resident, the
    reviewer (a User) for role reviewer, None for the system."""

    application: object
    source: str
    target: str
    role: str
    actor: object = None
    comment: str = ""
    signed: bool = False
    # The payment that moved 支払い待ち → 受付 (payment_received): references and facts only
    # (payment id, amount in yen, provider, method, till receipt, paid at), for the 領収書.
    payment: dict | None = None

    @property
    def is_submission(self) -> bool:
        return self.source == "draft"


class ListenerRefused(Exception):
    """Raised by a listener that refuses a transition for a reason the actor can act on (a
    確認書 naming no open benefit, say): the whole transition rolls back, and the back office
    shows the message (casework) instead of an error page."""


Listener = Callable[[Sequence[Transition]], None]

LISTENERS: Registry[Listener] = Registry("transition listener")


def publish(transitions: Sequence[Transition]) -> None:
    """Hands the transitions of one write to every listener, in the order of their names.
    Called by applications.services inside the transaction that writes them."""
    if not transitions:
        return
    for entry in LISTENERS.entries():
        entry.implementation(transitions)
