"""Can two certificates be one card's? (madoguchi/pki/pairing.py; issue 13, finding 3)"""

import datetime as dt
import os
from pathlib import Path

import pytest
from cryptography import x509

from madoguchi.pki import pairing, profile
from madoguchi.pki.devca import DevCA

ROOTS = Path(__file__).resolve().parents[3] / "shared" / "data" / "jpki-roots"
TARO = profile.BasicFour(name="窓口　太郎", address="東京都窓口市本町一丁目1番1号", birth=dt.date(1980, 4, 1), sex="1")
JIRO = profile.BasicFour(name="窓口　次郎", address="東京都窓口市本町一丁目1番1号", birth=dt.date(1980, 4, 1), sex="1")
HANAKO = profile.BasicFour(name="見本　花子", address="東京都窓口市本町二丁目2番2号", birth=dt.date(1990, 6, 15), sex="2")


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return DevCA.open(tmp_path_factory.mktemp("gen1"))


def check(ca_a, card_a, ca_b, card_b):
    return pairing.mismatch(card_a.auth_cert, ca_a.certificate("auth"), card_b.sign_cert, ca_b.certificate("sign"))


def test_the_development_ca_issues_one_cards_certificates_together(ca):
    card = ca.issue_card(TARO)
    assert card.auth_cert.not_valid_before_utc == card.sign_cert.not_valid_before_utc
    assert card.auth_cert.not_valid_after_utc == card.sign_cert.not_valid_after_utc
    assert check(ca, card, ca, card) is None
    past = ca.issue_card(TARO, now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3))
    assert past.auth_cert.not_valid_before_utc == past.sign_cert.not_valid_before_utc
    assert check(ca, past, ca, past) is None


def test_two_peoples_cards_end_on_different_days(ca):
    assert check(ca, ca.issue_card(TARO), ca, ca.issue_card(HANAKO)) == pairing.NOT_AFTER


def test_cards_ending_the_same_day_but_issued_apart(ca):
    now = dt.datetime.now(dt.timezone.utc)
    taro, jiro = ca.issue_card(TARO, now=now), ca.issue_card(JIRO, now=now - dt.timedelta(minutes=11))
    assert check(ca, jiro, ca, taro) == pairing.NOT_BEFORE
    close = ca.issue_card(JIRO, now=now - dt.timedelta(minutes=9))
    assert check(ca, close, ca, taro) is None  # within the tolerance: not detectable (docs: residual risk)


@pytest.mark.skipif(not ROOTS.exists() and os.environ.get("CI") != "true", reason="shared J-LIS roots not present")
def test_the_jlis_generations_pair_as_published(ca):
    def root(name):
        return x509.load_pem_x509_certificate((ROOTS / name).read_bytes())

    auth15, sign15 = root("auth_ca_2015.pem"), root("sign_ca_2015.pem")
    auth23, sign23 = root("auth_ca_2023.pem"), root("sign_ca_2023.pem")
    assert pairing.same_generation(auth15, sign15) and pairing.same_generation(auth23, sign23)
    assert not pairing.same_generation(auth15, sign23) and not pairing.same_generation(auth23, sign15)
    # Everything else equal (one card's two certificates), another generation's CA is refused.
    card = ca.issue_card(TARO)
    assert pairing.mismatch(card.auth_cert, auth23, card.sign_cert, sign23) is None
    assert pairing.mismatch(card.auth_cert, auth23, card.sign_cert, sign15) == pairing.CA_GENERATION
