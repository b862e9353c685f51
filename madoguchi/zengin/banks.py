"""The bank and branch master: every 金融機関 and 支店 code with its names, from the
`zengin-code` package (data vendored from zengin-code/source-data; its date is
MASTER_VERSION). A bank merger changes codes: upgrade the pinned package to follow.

    bank("0005")                -> Bank(code="0005", name="三菱ＵＦＪ", kana="ミツビシユ-エフジエイ", …)
    branch("0005", "001")       -> Branch(…)
    search_banks("みずほ")       -> [Bank(…), …]   by code, kanji, kana or hiragana, any width
    search_branches("0001", "丸の内")

`zengin_kana` on each is the name as a Zengin file carries it (half-width katakana,
small kana large) and `file_name` that name cut to the 15 characters of the file's bank
and branch name fields — those fields are informational (banks route on the codes), so
the cut is the usual practice, never applied to a payee's name.
"""

from __future__ import annotations

import dataclasses
import functools

import jaconv

from .charset import to_zengin_kana

__all__ = ["Bank", "Branch", "UnknownBank", "UnknownBranch", "bank", "branch", "branches", "search_banks",
           "search_branches", "master_version"]

FILE_NAME_WIDTH = 15


class UnknownBank(LookupError):
    def __init__(self, code: str):
        self.code = code
        super().__init__(f"no bank with code {code!r} in the Zengin master")


class UnknownBranch(LookupError):
    def __init__(self, bank_code: str, code: str):
        self.bank_code, self.code = bank_code, code
        super().__init__(f"no branch {code!r} of bank {bank_code!r} in the Zengin master")


@functools.lru_cache(maxsize=None)
def _zengin(kana: str) -> str:
    # Every name in the vendored master converts (tests/zengin/test_banks.py checks them all).
    return to_zengin_kana(kana)


@dataclasses.dataclass(frozen=True, slots=True)
class Bank:
    code: str        # 4 digits
    name: str        # kanji, e.g. みずほ
    kana: str        # full-width katakana as published (small kana already large)
    hira: str
    roma: str

    @property
    def zengin_kana(self) -> str:
        return _zengin(self.kana)

    @property
    def file_name(self) -> str:
        return self.zengin_kana[:FILE_NAME_WIDTH].rstrip(" ")


@dataclasses.dataclass(frozen=True, slots=True)
class Branch:
    bank_code: str
    code: str        # 3 digits
    name: str
    kana: str
    hira: str
    roma: str

    @property
    def zengin_kana(self) -> str:
        return _zengin(self.kana)

    @property
    def file_name(self) -> str:
        return self.zengin_kana[:FILE_NAME_WIDTH].rstrip(" ")


@functools.cache
def _master():
    import zengin_code  # loads every bank and branch (about 0.1 s) on first use

    banks = {}
    branch_map = {}
    for code, b in zengin_code.Bank.all.items():
        banks[code] = Bank(b.code, b.name, b.kana, b.hira, b.roma)
        branch_map[code] = {bc: Branch(code, br.code, br.name, br.kana, br.hira, br.roma)
                            for bc, br in b.branches.items()}
    return banks, branch_map, zengin_code.__version__


def master_version() -> str:
    """The zengin-code version, whose last part is the data's date (e.g. 1.1.0.20260824)."""
    return _master()[2]


def bank(code: str) -> Bank:
    banks = _master()[0]
    try:
        return banks[code]
    except (KeyError, TypeError):
        raise UnknownBank(code) from None


def branch(bank_code: str, code: str) -> Branch:
    bank(bank_code)
    try:
        return _master()[1][bank_code][code]
    except (KeyError, TypeError):
        raise UnknownBranch(bank_code, code) from None


def branches(bank_code: str) -> list[Branch]:
    bank(bank_code)
    return list(_master()[1][bank_code].values())


def _key(text: str) -> str:
    """A search key: full-width katakana, small kana large, no spaces, upper case."""
    text = jaconv.h2z(text.strip(), kana=True, ascii=True, digit=True)
    text = jaconv.enlarge_smallkana(jaconv.hira2kata(text))
    return text.replace("\u3000", "").replace(" ", "").upper()


def _matches(query: str, items, limit: int):
    query = query.strip()
    if not query:
        return []
    if query.isascii() and query.isdigit():
        exact = [i for i in items if i.code == query]
        return (exact + [i for i in items if i.code.startswith(query) and i.code != query])[:limit]
    key = _key(query)
    found = []
    for item in items:
        if key in _key(item.name) or key in _key(item.kana):
            found.append(item)
    # Names that start with the query first, then shorter names.
    found.sort(key=lambda i: (not (_key(i.name).startswith(key) or _key(i.kana).startswith(key)), len(i.name), i.code))
    return found[:limit]


def search_banks(query: str, limit: int = 20) -> list[Bank]:
    """Banks whose code starts with the query (digits) or whose name or kana contains it."""
    return _matches(query, list(_master()[0].values()), limit)


def search_branches(bank_code: str, query: str, limit: int = 20) -> list[Branch]:
    return _matches(query, branches(bank_code), limit)
