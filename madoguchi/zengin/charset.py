"""The characters a Zengin file carries, and names converted into them.

Every bank takes, in the name fields (受取人名, 振込依頼人名, bank and branch names):

- half-width katakana, large only: ｱ–ﾝ and ｦ (small kana are written large: ｯ→ﾂ, ｬ→ﾔ);
- the voiced and semi-voiced marks ﾞ ﾟ, each one character of its own (ｶﾞ is two);
- upper-case A–Z, digits 0–9, the space and the symbols ( ) - . /

Symbols some banks add (¥ , ｢ ｣) are not in the set: a file that one bank refuses is worse
than a name a clerk fixes. One character is one byte in cp932 (JIS X 0201), so a field's
width in characters is its width in bytes.

`to_zengin_kana` converts a name typed in any width (hiragana, full-width katakana,
half-width katakana, full-width letters) into that set and never substitutes silently: a
character with no Zengin form (a kanji, ・, ヰ, a comma) is reported with its position in
an `UnconvertibleName`, all of them at once.
"""

from __future__ import annotations

import functools
import re

import jaconv

__all__ = [
    "KANA", "SYMBOLS", "ZENGIN_CHARACTERS", "UnconvertibleName", "is_zengin_text", "to_zengin_kana",
    "names_match",
]

#: Large half-width katakana (JIS X 0201 0xB1–0xDD) and ｦ (0xA6).
KANA = "ｦｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜﾝ" + "ﾞﾟ"
SYMBOLS = " ()-./"
ZENGIN_CHARACTERS = frozenset(KANA + "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + SYMBOLS)
_ZENGIN_RE = re.compile("[" + re.escape("".join(sorted(ZENGIN_CHARACTERS))) + "]*")

# Small half-width kana written large.
_HALF_SMALL = dict(zip("ｧｨｩｪｫｬｭｮｯ", "ｱｲｳｴｵﾔﾕﾖﾂ"))
# Long-vowel marks and dashes: the Zengin set has only the hyphen-minus.
_DASHES = "ーｰ－‐‑–—―−"
# Voiced / semi-voiced marks, combining (NFD input) and spacing.
_MARKS = {"\u3099": "ﾞ", "\u309a": "ﾟ", "\u309b": "ﾞ", "\u309c": "ﾟ"}
# Small kana jaconv.enlarge_smallkana leaves alone.
_EXTRA_SMALL = {"ゎ": "わ", "ヮ": "ワ"}


class UnconvertibleName(ValueError):
    """A name with characters Zengin cannot carry. `problems` lists (index, character),
    index 0-based into the text given; the message counts from 1 for people."""

    def __init__(self, text: str, problems: list[tuple[int, str]]):
        self.text = text
        self.problems = tuple(problems)
        listed = ", ".join(f"{char!r} at {index + 1}" for index, char in self.problems)
        super().__init__(f"cannot be carried in a Zengin file: {listed}")

    @property
    def positions(self) -> tuple[int, ...]:
        return tuple(index for index, _ in self.problems)


@functools.lru_cache(maxsize=4096)
def _convert_char(char: str) -> str | None:
    """One character of input → its Zengin form (one or two characters), or None."""
    if char in ZENGIN_CHARACTERS:
        return char
    if char in _HALF_SMALL:
        return _HALF_SMALL[char]
    if char in _DASHES:
        return "-"
    if char in _MARKS:
        return _MARKS[char]
    if char == "\u3000":
        return " "
    if "a" <= char <= "z":
        return char.upper()
    if "\uff01" <= char <= "\uff5e":  # full-width ASCII
        return _convert_char(chr(ord(char) - 0xFEE0))
    text = _EXTRA_SMALL.get(char, char)
    text = jaconv.enlarge_smallkana(jaconv.hira2kata(text))
    text = jaconv.z2h(text, kana=True, ascii=True, digit=True)
    if text and all(c in ZENGIN_CHARACTERS for c in text):
        return text
    return None


def to_zengin_kana(text: str) -> str:
    """`text` in the Zengin character set: half-width, small kana large, long vowels as -,
    lower case upper, leading and trailing spaces dropped. Raises UnconvertibleName naming
    every character that has no Zengin form."""
    out: list[str] = []
    problems: list[tuple[int, str]] = []
    for index, char in enumerate(text):
        converted = _convert_char(char)
        if converted is None:
            problems.append((index, char))
        else:
            out.append(converted)
    if problems:
        raise UnconvertibleName(text, problems)
    return "".join(out).strip(" ")


def is_zengin_text(text: str) -> bool:
    """True when every character of `text` is in the Zengin set as it stands."""
    return _ZENGIN_RE.fullmatch(text) is not None


def names_match(first: str, second: str) -> bool:
    """Whether two names are the same once both are in Zengin kana, spaces ignored
    (ﾔﾏﾀﾞ ﾀﾛｳ, やまだ　たろう and ヤマダタロウ match). A name that cannot be converted
    matches nothing."""
    try:
        return to_zengin_kana(first).replace(" ", "") == to_zengin_kana(second).replace(" ", "")
    except UnconvertibleName:
        return False
