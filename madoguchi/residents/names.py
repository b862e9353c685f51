"""Name search keys. Names themselves are stored exactly as received; only the key is normalised.

The key must let a name read from a signature certificate match the same person's
resident record although the two systems encode it differently: full-width vs
half-width forms, spaces between family and given name, variation selectors (IVS) that
one side keeps and the other drops, and the common old/variant kanji that one system
holds as the registered form and the other as the standard form (髙/高, 﨑/崎 …). The
table below is deliberately short — every pair in it merges two names — and lives in
one place so it can grow with evidence.
"""

import re
import unicodedata

# Variation selectors (VS1–16, VS17–256) and other invisible format characters.
_INVISIBLE = re.compile("[\uFE00-\uFE0F\U000E0100-\U000E01EF\u200B-\u200D\u2060\uFEFF]")
_SPACES = re.compile(r"[\s\u3000・･.,]+")

# Registered (old or variant) form → standard form. Pairs that J-LIS certificates and
# core systems are known to hold differently for the same person.
VARIANT_KANJI = {
    "髙": "高", "﨑": "崎", "嵜": "崎", "邉": "辺", "邊": "辺", "齋": "斎", "齊": "斉",
    "濵": "浜", "濱": "浜", "澤": "沢", "德": "徳", "惠": "恵", "廣": "広", "國": "国",
    "櫻": "桜", "瀨": "瀬", "眞": "真", "實": "実", "淵": "渕", "冨": "富", "龍": "竜", "藏": "蔵", "峯": "峰", "嶋": "島", "嶌": "島",
}
_VARIANT_TABLE = str.maketrans(VARIANT_KANJI)

# Katakana → hiragana, so kana keys match whichever script the source used.
_KATAKANA = "".join(chr(c) for c in range(0x30A1, 0x30F7))
_HIRAGANA = "".join(chr(c) for c in range(0x3041, 0x3097))
_KANA_TABLE = str.maketrans(_KATAKANA, _HIRAGANA)


def search_key(name: str) -> str:
    """The normalised form used to match and search names (never shown, never stored as the name)."""
    if not name:
        return ""
    text = _INVISIBLE.sub("", name)
    text = unicodedata.normalize("NFKC", text)
    text = _SPACES.sub("", text)
    text = text.translate(_VARIANT_TABLE)
    text = text.translate(_KANA_TABLE)
    return text.casefold()


def kana_key(kana: str) -> str:
    return search_key(kana)
