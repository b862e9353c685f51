"""The embedded install: SQLite under the data directory, the demo, http://127.0.0.1."""

import os

from .base import *  # noqa: F401,F403
from .base import env_bool, env_list

DEBUG = env_bool("MADOGUCHI_DEBUG", False)
# Mail goes to the console unless an SMTP server is named (MADOGUCHI_EMAIL_HOST).
EMAIL_BACKEND = ("django.core.mail.backends.smtp.EmailBackend" if os.environ.get("MADOGUCHI_EMAIL_HOST")
                 else "django.core.mail.backends.console.EmailBackend")
DEMO_ALLOWED = True
# The demo tells residents by e-mail (to the console) and Web Push as well as the inbox.
NOTICE_CHANNELS = env_list("MADOGUCHI_NOTICE_CHANNELS", ["inbox", "email", "push"])
