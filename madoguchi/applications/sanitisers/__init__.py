"""The attachment sanitisers (base.SANITISERS); importing the package registers the built-in ones."""

from . import image, pdf  # noqa: F401 (registers them)
from .base import SANITISERS, Rejected, Sanitised, Sanitiser, for_content_type

__all__ = ["SANITISERS", "Rejected", "Sanitised", "Sanitiser", "for_content_type"]
