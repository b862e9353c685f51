"""The Zengin (全銀協) fixed-width transfer format. Pure library: never imports Django.

    from madoguchi.zengin import Transfer, TransferHeader, write_transfers, read_transfers
    from madoguchi.zengin import to_zengin_kana, UnconvertibleName, FormatError

charset.py — the Zengin character set and name conversion (to_zengin_kana, names_match);
records.py — 総合振込 request files and the bank's result files (振込不能);
banks.py   — the bank and branch master (zengin-code); cli.py — `madoguchi zengin …`.
See docs/zengin.md.
"""

from .charset import UnconvertibleName, is_zengin_text, names_match, to_zengin_kana
from .records import (
    CRLF, RESULT_REASONS, FieldError, FormatError, ResultFile, Transfer, TransferFile, TransferGroup,
    TransferHeader, TransferResult, ZenginWriter, read_results, read_transfers, write_results, write_transfers,
)

__all__ = [
    "CRLF", "RESULT_REASONS", "FieldError", "FormatError", "ResultFile", "Transfer", "TransferFile",
    "TransferGroup", "TransferHeader", "TransferResult", "UnconvertibleName", "ZenginWriter", "is_zengin_text",
    "names_match", "read_results", "read_transfers", "to_zengin_kana", "write_results", "write_transfers",
]
