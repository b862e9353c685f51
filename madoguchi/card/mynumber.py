"""個人番号 (the 12-digit individual number): check digit (DOMAIN.md §6, via python-stdnum),
generation of synthetic numbers for virtual cards, and masking for display.

Never log an individual number; show it masked unless the caller explicitly asked for it.
"""

from __future__ import annotations

import secrets

from stdnum.jp import in_ as stdnum_in


def is_valid(number: str) -> bool:
    return isinstance(number, str) and len(number) == 12 and number.isascii() and stdnum_in.is_valid(number)


def generate() -> str:
    """A random 12-digit number with a valid check digit (not derived from any 住民票コード)."""
    body = f"{secrets.randbelow(10**11):011d}"
    return body + stdnum_in.calc_check_digit(body)


def mask(number: str) -> str:
    return "*" * 8 + number[-4:] if len(number) == 12 else "*" * len(number)
