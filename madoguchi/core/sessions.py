"""Django's database sessions, two statements cheaper per sign-in (docs/operations.md,
"Sizing"): a new session key is not first looked up, and deleting the old session at a key
rotation is one DELETE instead of a SELECT and a DELETE. Everything else is Django's."""

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.utils.crypto import get_random_string


class SessionStore(db.SessionStore):
    def _get_new_session_key(self):
        # 32 characters of 36 at random: as likely to collide as a session is to be guessed;
        # and create()'s INSERT refuses a taken key anyway (the primary key), then tries another.
        return get_random_string(32, VALID_KEY_CHARS)

    def delete(self, session_key=None):
        key = session_key if session_key is not None else self.session_key
        if key is None:
            return
        self.model.objects.filter(session_key=key).delete()  # no signals, no relations: one DELETE
