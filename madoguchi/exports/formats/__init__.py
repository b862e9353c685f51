"""The export formats (base.FORMATS); importing the package registers the built-in ones."""

from . import delimited, jsonl  # noqa: F401 (registers them)
from .base import FORMATS, ExportFormat, RowWriter, choices

__all__ = ["FORMATS", "ExportFormat", "RowWriter", "choices"]
