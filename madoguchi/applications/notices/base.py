"""Notice channels: how a resident is told of their application's transitions.

A plug point (madoguchi.registry): `Channel` is the base, `CHANNELS` the registry of
channels by name; settings.NOTICE_CHANNELS names the channels the notices listener
delivers through, in order. The in-portal inbox (inbox.py) is the one channel today; Web
Push and e-mail come with issue 16. A channel runs inside the transition's transaction
(applications/transitions.py): it writes its rows there, and anything slow or external
(a push service, a mail server) goes to a task enqueued in the same transaction.
"""

from collections.abc import Sequence

from madoguchi.registry import Registry

from ..transitions import Transition


class Channel:
    """Tells the applicant of each transition (a notice's text: notices.text)."""

    def deliver(self, transitions: Sequence[Transition]) -> None:
        raise NotImplementedError


CHANNELS: Registry[Channel] = Registry("notice channel")
