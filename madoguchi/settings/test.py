"""The test suite: the same code as production, with fast password hashing."""

from .base import *  # noqa: F401,F403

DEBUG = False
DEMO_ALLOWED = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
NOTICES_PUSH_INSECURE_ENDPOINTS = True  # a local push service over http (tests/notices/pushservice.py)
