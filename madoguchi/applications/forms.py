"""Moved to madoguchi.procedures.forms (it renders procedure definitions). Kept for the back
office (casework, exports) until it imports procedures.forms itself."""

from madoguchi.procedures.forms import display, lang, read, sections, text  # noqa: F401
