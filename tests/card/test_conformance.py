"""APDU-level conformance, following JPKI.md §1–§4: raw command bytes in, raw response
bytes and status words out. Every test runs on both transports — the virtual card in this
process, and the same card served through vpcd and read by pyscard through pcscd — so the
virtual card is held to the real card's protocol, not to our own client.
"""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from madoguchi.card import constants as C
from madoguchi.card import mynumber

from .conftest import HOLDER, PASSWORD, PIN, TEXT_PIN

SELECT_JPKI = "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01"
SELECT_TEXT = "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08"


def ef(efid: int) -> str:
    return f"00 A4 02 0C 02 {efid:04X}"


def verify_hex(secret: str, p2: int = 0x80) -> str:
    data = secret.encode("ascii")
    return f"00 20 00 {p2:02X} {len(data):02X} {data.hex()}"


def digest_info(message: bytes) -> bytes:
    return bytes.fromhex("3031300d060960864801650304020105000420") + hashlib.sha256(message).digest()


def sign_hex(info: bytes, p2: int = 0x80) -> str:
    return f"80 2A 00 {p2:02X} {len(info):02X} {info.hex()} 00"


def read_file(raw, efid: int) -> bytes:
    """What a careful client does: header first, then chunks by 15-bit offset."""
    assert raw(ef(efid)) == (b"", 0x9000)
    head, sw = raw("00 B0 00 00 04")
    assert sw == 0x9000 and len(head) == 4
    assert head[:2] == b"\x30\x82"
    total = ((head[2] << 8) | head[3]) + 4
    data = bytearray(head)
    while len(data) < total:
        n = min(256, total - len(data))
        chunk, sw = raw(f"00 B0 {len(data) >> 8:02X} {len(data) & 0xFF:02X} {n & 0xFF:02X}")
        assert sw == 0x9000
        assert len(chunk) == n
        data += chunk
    return bytes(data)


def test_atr_is_the_physical_cards(raw):
    assert raw.transport.atr == bytes.fromhex("3B E0 00 FF 81 31 FE 45 14")


def test_select_applications(raw):
    assert raw(SELECT_JPKI) == (b"", 0x9000)
    assert raw(SELECT_TEXT) == (b"", 0x9000)
    assert raw("00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 FF") == (b"", 0x6A82)
    assert raw("00 A4 04 0C 07 A0 00 00 01 51 00 00") == (b"", 0x9000)


def test_select_ef_only_within_the_selected_application(raw):
    assert raw(ef(C.EF_AUTH_CERT)) == (b"", 0x6A82)  # GP ISD selected at power-up
    raw(SELECT_JPKI)
    for efid in (0x0001, 0x0002, 0x0006, 0x0008, 0x000A, 0x000B, 0x0017, 0x0018, 0x001A, 0x001B):
        assert raw(ef(efid)) == (b"", 0x9000), hex(efid)
    assert raw(ef(0x0005)) == (b"", 0x6A82)
    assert raw("00 A4 02 0C 01 0A") == (b"", 0x6700)


def test_read_auth_and_ca_certificates_without_pin(raw):
    raw(SELECT_JPKI)
    for efid in (C.EF_AUTH_CERT, C.EF_AUTH_CA_CERT, C.EF_SIGN_CA_CERT):
        der = read_file(raw, efid)
        cert = x509.load_der_x509_certificate(der)
        assert cert.signature_hash_algorithm.name == "sha256"
        assert cert.public_key().key_size == 2048


def test_auth_certificate_carries_no_personal_data(raw):
    raw(SELECT_JPKI)
    cert = x509.load_der_x509_certificate(read_file(raw, C.EF_AUTH_CERT))
    text = cert.public_bytes(encoding=__import__("cryptography").hazmat.primitives.serialization.Encoding.DER)
    assert HOLDER.name.encode() not in text and HOLDER.address.encode() not in text
    assert [a.oid._name for a in cert.subject] == ["countryName", "commonName"]


def test_one_256_byte_read_does_not_return_a_whole_certificate(raw):
    raw(SELECT_JPKI)
    raw(ef(C.EF_AUTH_CERT))
    data, sw = raw("00 B0 00 00 00")  # Le=00 → 256 bytes
    assert sw == 0x9000 and len(data) == 256
    total = ((data[2] << 8) | data[3]) + 4
    assert total > 256


def test_read_binary_by_short_ef_id(raw):
    raw(SELECT_JPKI)
    data, sw = raw(f"00 B0 {0x80 | C.EF_AUTH_CERT:02X} 00 04")
    assert sw == 0x9000 and data[:2] == b"\x30\x82"
    # the SFI read made 000A the current EF
    more, sw = raw("00 B0 00 04 04")
    assert sw == 0x9000 and len(more) == 4


def test_read_binary_errors(raw):
    raw(SELECT_JPKI)
    assert raw("00 B0 00 00 04") == (b"", 0x6986)  # no current EF
    raw(ef(C.EF_AUTH_CERT))
    assert raw("00 B0 7F FF 01") == (b"", 0x6B00)  # beyond the end
    raw(ef(C.EF_AUTH_KEY))
    assert raw("00 B0 00 00 04")[1] == 0x6981  # a key is not readable
    raw(ef(C.EF_CERT_AVAILABILITY))
    data, sw = raw("00 B0 00 00 10")  # past the end of a 3-byte file
    assert (data, sw) == (bytes.fromhex("8F 8F 00"), 0x6282)


def test_signature_certificate_needs_the_password(raw):
    raw(SELECT_JPKI)
    raw(ef(C.EF_SIGN_CERT))
    assert raw("00 B0 00 00 04") == (b"", 0x6982)
    raw(ef(C.EF_SIGN_PIN))
    assert raw(verify_hex(PASSWORD)) == (b"", 0x9000)
    cert = x509.load_der_x509_certificate(read_file(raw, C.EF_SIGN_CERT))
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.content_commitment


def test_token_info_and_certificate_availability(raw):
    raw(SELECT_JPKI)
    raw(ef(C.EF_TOKEN_INFO))
    info, sw = raw("00 B0 00 00 A0")
    assert sw == 0x9000 and len(info) == 160
    assert info[:32] == b"JPKIAPICCTOKEN2".ljust(32, b" ")
    raw(ef(C.EF_CERT_AVAILABILITY))
    assert raw("00 B0 00 00 03") == (bytes.fromhex("8F 8F 00"), 0x9000)


def test_retry_counters_read_with_empty_verify(raw):
    raw(SELECT_JPKI)
    raw(ef(C.EF_AUTH_PIN))
    assert raw("00 20 00 80") == (b"", 0x63C3)
    raw(ef(C.EF_SIGN_PIN))
    assert raw("00 20 00 80") == (b"", 0x63C5)
    assert raw("00 20 00 98") == (b"", 0x63C3)  # by short EF id (0018)
    assert raw("00 20 00 80") == (b"", 0x63C5)  # reading consumed nothing
    raw(SELECT_TEXT)
    raw(ef(C.EF_TEXT_PIN))
    assert raw("00 20 00 80") == (b"", 0x63C3)


def test_empty_verify_after_a_correct_one_still_reports_the_counter(raw):
    """OpenSC's JPKI driver accepts only 63Cx here (CHOICE in the virtual card)."""
    raw(SELECT_JPKI)
    raw(ef(C.EF_AUTH_PIN))
    assert raw(verify_hex("0000")) == (b"", 0x63C2)
    assert raw(verify_hex(PIN)) == (b"", 0x9000)
    assert raw("00 20 00 80") == (b"", 0x63C3)
    raw(ef(C.EF_AUTH_KEY))
    assert raw(sign_hex(digest_info(b"x")))[1] == 0x9000  # still verified


def test_verify_addressing_errors(raw):
    raw(SELECT_JPKI)
    assert raw(verify_hex(PIN)) == (b"", 0x6986)          # no current EF
    raw(ef(C.EF_AUTH_CERT))
    assert raw(verify_hex(PIN))[1] == 0x6981            # current EF is not a PIN
    assert raw(verify_hex(PIN, p2=0x00))[1] == 0x6A86    # P2 without b8
    assert raw(verify_hex(PIN, p2=0x8A))[1] == 0x6A88    # SFI of a non-PIN EF


def test_sign_with_authentication_key(raw):
    raw(SELECT_JPKI)
    cert = x509.load_der_x509_certificate(read_file(raw, C.EF_AUTH_CERT))
    info = digest_info(b"challenge")
    raw(ef(C.EF_AUTH_KEY))
    assert raw(sign_hex(info)) == (b"", 0x6982)
    raw(ef(C.EF_AUTH_PIN))
    assert raw(verify_hex(PIN)) == (b"", 0x9000)
    raw(ef(C.EF_AUTH_KEY))
    signature, sw = raw(sign_hex(info))
    assert sw == 0x9000 and len(signature) == 256
    cert.public_key().verify(signature, b"challenge", padding.PKCS1v15(), hashes.SHA256())


def test_sign_key_by_short_ef_id_needs_its_own_password(raw):
    raw(SELECT_JPKI)
    raw(ef(C.EF_AUTH_PIN))
    raw(verify_hex(PIN))
    info = digest_info(b"doc")
    assert raw(sign_hex(info, p2=0x9A)) == (b"", 0x6982)  # auth PIN does not open the sign key
    assert raw(sign_hex(info, p2=0x97))[1] == 0x9000
    raw(ef(C.EF_SIGN_PIN))
    raw(verify_hex(PASSWORD))
    raw(ef(C.EF_SIGN_CERT))
    signature, sw = raw(sign_hex(info, p2=0x9A))
    assert sw == 0x9000
    raw(SELECT_JPKI)
    cert = x509.load_der_x509_certificate(read_file(raw, C.EF_SIGN_CERT))
    cert.public_key().verify(signature, b"doc", padding.PKCS1v15(), hashes.SHA256())


def test_sign_pads_raw_input_like_the_card(raw):
    """P1=00: the card applies PKCS#1 type-1 padding to whatever it is given (1–245 bytes)."""
    raw(SELECT_JPKI)
    cert = x509.load_der_x509_certificate(read_file(raw, C.EF_AUTH_CERT))
    raw(ef(C.EF_AUTH_PIN))
    raw(verify_hex(PIN))
    raw(ef(C.EF_AUTH_KEY))
    data = b"not a digest info"
    signature, sw = raw(sign_hex(data))
    assert sw == 0x9000
    numbers = cert.public_key().public_numbers()
    em = pow(int.from_bytes(signature, "big"), numbers.e, numbers.n).to_bytes(256, "big")
    assert em == b"\x00\x01" + b"\xff" * (256 - 3 - len(data)) + b"\x00" + data
    assert raw(f"80 2A 00 80 F6 {'00' * 246} 00")[1] == 0x6700  # longer than k − 11
    assert raw(f"80 2A 01 80 {len(data):02X} {data.hex()} 00")[1] == 0x6A86


def test_selecting_another_application_drops_the_security_state(raw):
    raw(SELECT_JPKI)
    raw(ef(C.EF_AUTH_PIN))
    raw(verify_hex(PIN))
    raw(SELECT_TEXT)
    raw(SELECT_JPKI)
    raw(ef(C.EF_AUTH_KEY))
    assert raw(sign_hex(digest_info(b"x"))) == (b"", 0x6982)


def test_change_reference_data(raw):
    raw(SELECT_JPKI)
    raw(ef(C.EF_AUTH_PIN))
    assert raw("00 24 01 80 04 39393939") == (b"", 0x6982)
    raw(verify_hex(PIN))
    assert raw("00 24 01 80 03 393939") == (b"", 0x6A80)  # not 4 digits
    assert raw("00 24 01 80 04 39393939") == (b"", 0x9000)
    raw(SELECT_TEXT)
    raw(SELECT_JPKI)
    raw(ef(C.EF_AUTH_PIN))
    assert raw(verify_hex(PIN)) == (b"", 0x63C2)
    assert raw(verify_hex("9999")) == (b"", 0x9000)


def test_text_ap_basic_four_facts(raw):
    raw(SELECT_TEXT)
    raw(ef(C.EF_TEXT_ATTRIBUTES))
    assert raw("00 B0 00 00 05") == (b"", 0x6982)
    raw(ef(C.EF_TEXT_PIN))
    assert raw(verify_hex(TEXT_PIN)) == (b"", 0x9000)
    raw(ef(C.EF_TEXT_ATTRIBUTES))
    head, sw = raw("00 B0 00 00 05")
    assert sw == 0x9000 and head[:2] == b"\xff\x20"
    record, sw = raw("00 B0 00 00 00")
    assert sw == 0x9000
    name = HOLDER.name.encode()
    assert b"\xdf\x22" + bytes([len(name)]) + name in record
    assert b"\xdf\x24\x08" + b"19900102" in record
    assert b"\xdf\x25\x01" + b"2" in record


def test_text_ap_individual_number_record(raw):
    raw(SELECT_TEXT)
    raw(ef(C.EF_TEXT_MYNUMBER))
    assert raw("00 B0 00 00 11") == (b"", 0x6982)
    raw(ef(C.EF_TEXT_PIN))
    raw(verify_hex(TEXT_PIN))
    raw(ef(C.EF_TEXT_MYNUMBER))
    data, sw = raw("00 B0 00 00 11")
    assert sw == 0x9000 and len(data) == 17
    assert data[:3] == b"\xff\x10\x0c" and data[-2:] == b"\xff\xff"
    assert mynumber.is_valid(data[3:15].decode())
    data, sw = raw("00 B0 00 00 20")
    assert (len(data), sw) == (17, 0x6282)


def test_text_ap_verification_codes(raw, card_state):
    number = card_state["text"]["mynumber"]
    raw(SELECT_TEXT)
    raw(ef(C.EF_TEXT_CODE_A))
    assert raw("00 20 00 80") == (b"", 0x63CA)  # CHOICE: ten tries
    assert raw(verify_hex(number)) == (b"", 0x9000)
    raw(ef(C.EF_TEXT_MYNUMBER))
    assert raw("00 B0 00 00 11")[1] == 0x9000      # 照合番号A opens the individual number
    raw(ef(C.EF_TEXT_ATTRIBUTES))
    assert raw("00 B0 00 00 05") == (b"", 0x6982)  # … but not the basic four facts


def test_text_ap_key_blocked_at_issuance(raw):
    raw(SELECT_TEXT)
    raw(ef(C.EF_TEXT_BLOCKED_KEY))
    assert raw("00 20 00 80") == (b"", 0x63C0)
    assert raw(verify_hex("1234")) == (b"", 0x6984)


@pytest.mark.parametrize("command,sw", [
    ("00 A4 04 0C 0A D3 92", 0x6700),           # Lc larger than the data
    ("00 A4 04 00 0A D3 92 F0 00 26 01 00 00 00 01", 0x6A86),  # FCI requested (not emulated)
    ("00 CA 00 00 00", 0x6D00),                   # unknown instruction
    ("80 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01", 0x6E00),  # wrong class for SELECT
    ("00 2A 00 80 01 00", 0x6E00),                # signing needs CLA 80
    ("A0 A4 04 0C 02 00 01", 0x6E00),
])
def test_malformed_or_unsupported_commands(raw, command, sw):
    assert raw(command) == (b"", sw)


def test_extended_length_read(raw):
    raw(SELECT_JPKI)
    raw(ef(C.EF_AUTH_CERT))
    head, _ = raw("00 B0 00 00 04")
    total = ((head[2] << 8) | head[3]) + 4
    data, sw = raw(f"00 B0 00 00 00 {total >> 8:02X} {total & 0xFF:02X}")
    if sw == 0x9000:  # readers may refuse extended APDUs; the virtual card itself accepts them
        assert len(data) == total


def test_text_ap_verification_code_b_opens_the_four_facts_only(raw, card_state):
    from madoguchi.card.virtual import era_year_code

    text = card_state["text"]
    code_b = f"{era_year_code(HOLDER.birth)}{text['card_expiry'][:4]}{text['security_code']}"
    assert code_b.startswith("020102")  # 平成2年1月2日
    raw(SELECT_TEXT)
    raw(ef(C.EF_TEXT_CODE_B))
    assert raw("00 20 00 80") == (b"", 0x63CA)
    assert raw(verify_hex(code_b)) == (b"", 0x9000)
    raw(ef(C.EF_TEXT_ATTRIBUTES))
    assert raw("00 B0 00 00 05")[1] == 0x9000
    raw(ef(C.EF_TEXT_MYNUMBER))
    assert raw("00 B0 00 00 11") == (b"", 0x6982)
