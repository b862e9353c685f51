"""Card facts (../shared/design/JPKI.md §1–§4). Choices for unconfirmed facts are marked CHOICE."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Application identifiers (§1).
AID_JPKI = bytes.fromhex("D392F000260100000001")
AID_TEXT = bytes.fromhex("D3921000310001010408")       # 券面事項入力補助AP
AID_SURFACE = bytes.fromhex("D3921000310001010402")    # 券面事項確認AP (card face, face.py)
AID_GP_ISD = bytes.fromhex("A0000001510000")     # selected at power-up

# ATR of the physical card as matched by OpenSC (card-jpki.c); TCK verified (XOR of T0..TCK = 0).
ATR = bytes.fromhex("3BE000FF8131FE4514")

# JPKI AP elementary files (§2.1).
EF_SIGN_CERT = 0x0001
EF_SIGN_CA_CERT = 0x0002
EF_TOKEN_INFO = 0x0006
EF_CERT_AVAILABILITY = 0x0008
EF_AUTH_CERT = 0x000A
EF_AUTH_CA_CERT = 0x000B
EF_AUTH_KEY = 0x0017
EF_AUTH_PIN = 0x0018
EF_SIGN_KEY = 0x001A
EF_SIGN_PIN = 0x001B

# Text AP elementary files (§2.2).
EF_TEXT_MYNUMBER = 0x0001
EF_TEXT_ATTRIBUTES = 0x0002
EF_TEXT_INTEGRITY = 0x0003     # FF30{DF31 SHA-256 of EF 0001, DF32 SHA-256 of EF 0002 from DF22, DF33 signature}
EF_TEXT_CV_CERT = 0x0004       # the AP's card-verifiable certificate, 7F21{5F4E, 5F37}; no PIN
EF_TEXT_PIN = 0x0011
EF_TEXT_BLOCKED_KEY = 0x0012   # blocked at issuance
EF_TEXT_CODE_A = 0x0014        # 照合番号A = the individual number
EF_TEXT_CODE_B = 0x0015        # 照合番号B (14 digits)

# Card face AP (券面事項確認AP) elementary files (§2.3).
EF_FACE_RECORD = 0x0002        # the card face, FF20{DF21..DF2A}; 照合番号A or B
EF_FACE_CV_CERT = 0x0004       # the AP's card-verifiable certificate, 7F21{5F4E, 5F37}; no PIN
EF_FACE_CODE_B = 0x0012        # 照合番号B (14 digits)
EF_FACE_CODE_A = 0x0013        # 照合番号A = the individual number

# Token labels (EF 0006, first 32 bytes, space padded).
TOKEN_CARD = "JPKIAPICCTOKEN2"
TOKEN_OLD_JUKI = "JPKIAPICCTOKEN"
TOKEN_ANDROID = "JPKIAPGPSETOKEN"
TOKEN_IPHONE = "JPKIAPIOSTOKEN"
TOKEN_KINDS = {
    TOKEN_CARD: "My Number Card",
    TOKEN_OLD_JUKI: "Juki card (old)",
    TOKEN_ANDROID: "Android (GP secure element)",
    TOKEN_IPHONE: "iPhone",
}
TOKEN_INFO_LENGTH = 160   # PKCS#11 CK_TOKEN_INFO, big-endian 32-bit ulongs

# Tags of the text AP records (private class).
# Tags as the bytes on the card (ISO 7816-4 style; FF10 is a non-minimal BER tag 16).
TAG_MYNUMBER = b"\xff\x10"
TAG_ATTRIBUTES = b"\xff\x20"
TAG_OFFSETS = b"\xdf\x21"      # u16be offset ×4
TAG_NAME = b"\xdf\x22"
TAG_ADDRESS = b"\xdf\x23"
TAG_BIRTH = b"\xdf\x24"
TAG_SEX = b"\xdf\x25"
TAG_INTEGRITY = b"\xff\x30"            # the text AP's integrity record (EF 0003)
TAG_MYNUMBER_DIGEST = b"\xdf\x31"      # SHA-256 of EF 0001 (with its filler)
TAG_ATTRIBUTES_DIGEST = b"\xdf\x32"    # SHA-256 of EF 0002 from DF22 on
TAG_INTEGRITY_SIGNATURE = b"\xdf\x33"  # PKCS#1 v1.5 by the key of the AP's CV certificate

# Tags of the card face record (券面事項確認AP EF 0002).
TAG_FACE = b"\xff\x20"
TAG_FACE_OFFSETS = b"\xdf\x21"     # u16be offset ×9 (each object after the table)
TAG_FACE_BIRTH = b"\xdf\x22"       # YYYYMMDD
TAG_FACE_SEX = b"\xdf\x23"
TAG_FACE_KEY = b"\xdf\x24"         # the card's own RSA key: 90 exponent, 91 modulus
TAG_FACE_NAME_IMAGE = b"\xdf\x25"  # PNG, 1 bit
TAG_FACE_ADDRESS_IMAGE = b"\xdf\x26"
TAG_FACE_PHOTO = b"\xdf\x27"       # JPEG 2000, greyscale
TAG_FACE_SIGNATURE = b"\xdf\x28"
TAG_FACE_EXPIRY = b"\xdf\x29"      # YYYYMMDD; after the signature, not covered by it
TAG_FACE_CODE_IMAGE = b"\xdf\x2a"  # the security code as printed, PNG
# Card-verifiable certificate (EF 0004 of both 券面 APs).
TAG_CV_CERT = b"\x7f\x21"
TAG_CV_BODY = b"\x5f\x4e"          # 16-byte issuer key id, 16-byte subject key id, 90/91 RSA key
TAG_CV_SIGNATURE = b"\x5f\x37"     # PKCS#1 v1.5 SHA-256 over the body
TAG_RSA_EXPONENT = b"\x90"
TAG_RSA_MODULUS = b"\x91"

SEX_CODES = {"1": "male", "2": "female", "9": "not applicable"}


@dataclass(frozen=True)
class PinPolicy:
    label: str
    ef: int
    tries: int
    pattern: str            # full-match regular expression for a valid value
    description: str

    def valid(self, value: str) -> bool:
        return re.fullmatch(self.pattern, value) is not None


# §4. The signature password is upper-cased before VERIFY (myna), so the card only ever
# sees A–Z0–9. CHOICE: we accept any 6–16 of A–Z0–9 (like myna's validator) and do not
# require a mix of letters and digits, which only some municipalities ask for.
AUTH_PIN = PinPolicy("auth PIN", EF_AUTH_PIN, 3, r"[0-9]{4}", "4 digits")
SIGN_PASSWORD = PinPolicy("signature password", EF_SIGN_PIN, 5, r"[A-Z0-9]{6,16}", "6–16 of A–Z and 0–9")
TEXT_PIN = PinPolicy("text PIN", EF_TEXT_PIN, 3, r"[0-9]{4}", "4 digits")
# CHOICE: the retry limits of 照合番号A/B are unknown; soltia mentions ten attempts for B.
CODE_A = PinPolicy("verification code A", EF_TEXT_CODE_A, 10, r"[0-9]{12}", "12 digits")
CODE_B = PinPolicy("verification code B", EF_TEXT_CODE_B, 10, r"[0-9]{14}", "14 digits")

# The card face AP has its own key references for the same two codes, with their own
# counters (CHOICE: separate from the text AP's; the limit is the same unknown ten).
FACE_CODE_B = PinPolicy("card face verification code B", EF_FACE_CODE_B, 10, r"[0-9]{14}", "14 digits")
FACE_CODE_A = PinPolicy("card face verification code A", EF_FACE_CODE_A, 10, r"[0-9]{12}", "12 digits")

POLICIES = {p.ef: p for p in (AUTH_PIN, SIGN_PASSWORD)}
TEXT_POLICIES = {p.ef: p for p in (TEXT_PIN, CODE_A, CODE_B)}
