"""Settings come from environment variables; MADOGUCHI_ENV picks the profile.

Profiles: ``dev`` (default, the embedded install), ``test`` and ``production``.
Every variable is documented in docs/configuration.md.
"""

import os

from django.core.exceptions import ImproperlyConfigured

_PROFILE = os.environ.get("MADOGUCHI_ENV", "dev")

if _PROFILE == "dev":
    from .dev import *  # noqa: F401,F403
elif _PROFILE == "test":
    from .test import *  # noqa: F401,F403
elif _PROFILE == "production":
    from .production import *  # noqa: F401,F403
else:
    raise ImproperlyConfigured(
        f"MADOGUCHI_ENV={_PROFILE!r} is not a profile; use dev, test or production"
    )
