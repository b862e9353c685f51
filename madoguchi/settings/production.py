"""Production refuses to start with DEBUG on, the development key or no allowed hosts."""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F401,F403
from .base import DEVELOPMENT_SECRET_KEY, env_bool, env_int

DEMO_ALLOWED = False
STATIC_ROOT = DATA_DIR / "static"  # noqa: F405

if DEBUG:  # noqa: F405
    raise ImproperlyConfigured("production: MADOGUCHI_DEBUG must be off")
if SECRET_KEY == DEVELOPMENT_SECRET_KEY or len(SECRET_KEY) < 50:  # noqa: F405
    raise ImproperlyConfigured(
        "production: set MADOGUCHI_SECRET_KEY to a random value of at least 50 characters"
        " (the development key is refused)"
    )
if not ALLOWED_HOSTS or "MADOGUCHI_ALLOWED_HOSTS" not in os.environ:  # noqa: F405
    raise ImproperlyConfigured("production: set MADOGUCHI_ALLOWED_HOSTS to the site's host names")

SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
LANGUAGE_COOKIE_SECURE = True
SECURE_SSL_REDIRECT = env_bool("MADOGUCHI_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("MADOGUCHI_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
