"""個人番号 (the 12-digit individual number): the one check-digit rule (DOMAIN.md §6, via
python-stdnum), the one masking rule, normalisation of what a resident types, detection in
free text, and generation of synthetic numbers for virtual cards.

Every other module (applications, procedures) calls these; none keeps a copy. Never log an
individual number; show it masked unless the caller explicitly asked for it.
"""

from __future__ import annotations

import re
import secrets
import unicodedata

from stdnum.jp import in_ as stdnum_in


def is_valid(number) -> bool:
    """12 ASCII digits whose last is the check digit of the first eleven."""
    return (isinstance(number, str) and len(number) == 12 and number.isascii() and number.isdigit()
            and stdnum_in.is_valid(number))


def generate() -> str:
    """A random 12-digit number with a valid check digit (not derived from any 住民票コード)."""
    body = f"{secrets.randbelow(10**11):011d}"
    return body + stdnum_in.calc_check_digit(body)


def mask(number: str) -> str:
    """`1234 **** ****`: the first four digits only (what staff and residents see)."""
    return f"{number[:4]} **** ****"


def normalize(value):
    """Full-width digits, spaces and hyphens as a resident may type them → 12 ASCII digits
    (anything else is returned unchanged for the validator to refuse)."""
    if not isinstance(value, str):
        return value
    text = unicodedata.normalize("NFKC", value)
    return re.sub(r"[\s\-‐－ー]", "", text)


# Free text: one character for one, so positions in the translated text are positions in
# the original. Full-width digits become ASCII; the separators a resident puts between
# groups (space, ideographic space, hyphens, the long-vowel mark typed for one) become "-".
_TEXT = str.maketrans("０１２３４５６７８９　‐－ー ", "0123456789-----")
_IN_TEXT = re.compile(r"(?<![0-9])(?:[0-9]{12}|[0-9]{4}-[0-9]{4}-[0-9]{4})(?![0-9])")


def find_in_text(text: str) -> list[tuple[int, int, str]]:
    """Valid individual numbers written in free text: 12 digits alone, half- or full-width,
    or grouped 4-4-4 by a space or a hyphen. (start, end, number) of each; a longer run of
    digits is something else (a card or account number) and is not split up."""
    if not isinstance(text, str):
        return []
    found = []
    for match in _IN_TEXT.finditer(text.translate(_TEXT)):
        number = match.group().replace("-", "")
        if is_valid(number):
            found.append((match.start(), match.end(), number))
    return found


def mask_in_text(text: str) -> str:
    """The text with each individual number in it replaced by its mask."""
    for start, end, number in reversed(find_in_text(text)):
        text = text[:start] + mask(number) + text[end:]
    return text
