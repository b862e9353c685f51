"""The in-portal inbox (お知らせ): a Notice row per transition, read on the resident's
notices page and through the API. References only: the text is rendered when shown."""

from collections.abc import Sequence

from ..transitions import Transition
from .base import CHANNELS, Channel


@CHANNELS.register("inbox", "the in-portal inbox (お知らせ): a notice the resident reads when signed in")
class InboxChannel(Channel):
    def deliver(self, transitions: Sequence[Transition]) -> None:
        from ..models import Notice

        Notice.objects.bulk_create([  # one INSERT however many transitions
            Notice(municipality_id=t.application.municipality_id, person_id=t.application.person_id,
                   application=t.application, kind=t.target) for t in transitions])
