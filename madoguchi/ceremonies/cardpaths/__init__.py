"""The card paths of the waiting page (base.py); importing this registers the built-in ones."""

from . import client, demo  # noqa: F401  (register)
from .base import CARD_PATHS, CardPath, enabled_paths, error_page, offered_paths  # noqa: F401
