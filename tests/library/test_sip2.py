"""The SIP2 codec (Patron Status Request 23 / Response 24, checksums) — no database."""

import datetime as dt

import pytest

from madoguchi.library import sip2

WHEN = "20261205    174500"


def request(aa="0123456789abcdef", ac="secret", ao="chuo", seq="1", checksum=True) -> bytes:
    body = f"23001{WHEN}AO{ao}|AA{aa}|AC{ac}|AD|".encode()
    if not checksum:
        return body
    body += f"AY{seq}AZ".encode()
    return body + sip2.checksum(body).encode()


def test_checksum_per_the_spec():
    # The spec's own example of a Request SC Resend: "96AZFEF6".
    assert sip2.checksum(b"96AZ") == "FEF6" and sip2.RESEND == b"96AZFEF6\r"
    # A known message from the 3M spec's appendix (SC Status with checksum).
    assert sip2.checksum_ok(b"9900302.00AY1AZFCA5")
    assert not sip2.checksum_ok(b"9900302.00AY1AZFCA6")


def test_decode_a_patron_status_request():
    req = sip2.decode_request(request())
    assert (req.institution_id, req.patron_identifier, req.terminal_password, req.patron_password) == \
        ("chuo", "0123456789abcdef", "secret", "")
    assert req.language == "001" and req.transaction_date == WHEN and req.sequence == "1"
    plain = sip2.decode_request(request(checksum=False))  # error detection off
    assert plain.sequence is None and plain.patron_identifier == "0123456789abcdef"


@pytest.mark.parametrize("frame", [
    request()[:-4] + format((int(request()[-4:], 16) + 1) & 0xFFFF, "04X").encode(),  # bad checksum
    request(aa="0123456789abcdee")[:-4] + request()[-4:],  # a changed byte under the old checksum
    request()[:-4] + b"ZZZZ",  # checksum not hex
    b"", b"2", b"23", b"23001", b"23001" + WHEN.encode(),  # cut off
    b"99" + request()[2:],  # another command
    b"23xx1" + request()[5:],  # bad language
    f"23001{WHEN}AOchuo|AA1|AD|".encode(),  # no AC
    f"23001{WHEN}AOchuo|aa1|AC|AD|".encode(),  # bad field id
    f"23001{WHEN}AOchuo|AA\xff|AC|AD|".encode("latin-1"),  # not UTF-8
    b"23001" + WHEN.encode() + b"AO" + b"x" * 3000 + b"|",  # too long
    f"23001{WHEN}AOchuo|AA1|AC|AD|AY1AZ12".encode(),  # malformed trailer
])
def test_malformed_requests_raise(frame):
    with pytest.raises(sip2.SIP2Error):
        sip2.decode_request(frame)


def test_encode_a_response_with_its_checksum():
    now = dt.datetime(2026, 12, 5, 8, 45, tzinfo=dt.timezone.utc)
    out = sip2.PatronStatusResponse(patron_status=sip2.ALLOWED, language="001",
                                    transaction_date=sip2.transaction_date(now), institution_id="chuo",
                                    patron_identifier="A1234", valid_patron=True,
                                    screen_messages=("ご利用|できます\r",), sequence="1").encode()
    assert out.endswith(b"\r") and out.startswith(b"24" + b" " * 14 + b"001" + b"20261205   Z084500")
    assert b"AOchuo|AAA1234|AE|BLY|AF" in out and "AFご利用できます|".encode() in out  # no delimiter, no CR inside
    assert sip2.checksum_ok(out[:-1])
    plain = sip2.PatronStatusResponse(patron_status=sip2.DENIED, language="001", transaction_date=sip2.transaction_date(now),
                                      institution_id="chuo", patron_identifier="x", valid_patron=False).encode()
    assert b"AY" not in plain and plain.endswith(b"BLN|\r")
    with pytest.raises(ValueError):
        sip2.PatronStatusResponse(patron_status="Y", language="001", transaction_date="x", institution_id="",
                                  patron_identifier="").encode()
