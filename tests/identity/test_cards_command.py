"""`madoguchi identity_cards`: refused certificates listed, links made by a two-card
identify found (the old code made them), and released only by the operator."""

import datetime as dt

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from django.core.management import CommandError, call_command

from madoguchi.audit.models import AuditEvent
from madoguchi.identity.models import RefusedCertificate
from madoguchi.identity.services import CertificateRef, FourFacts, identify, is_refused, person_for_credential
from madoguchi.pki import profile
from madoguchi.pki.devca import DevCA

TARO = profile.BasicFour(name="窓口　太郎", address="東京都窓口市本町一丁目1番1号", birth=dt.date(1980, 4, 1), sex="1")
HANAKO = profile.BasicFour(name="見本　花子", address="東京都窓口市本町二丁目2番2号", birth=dt.date(1990, 6, 15), sex="2")
JIRO = profile.BasicFour(name="窓口　次郎", address="東京都窓口市本町一丁目1番1号", birth=dt.date(1982, 8, 3), sex="1")


@pytest.fixture(scope="module")
def cards(tmp_path_factory):
    data = tmp_path_factory.mktemp("identity-cards")
    ca = DevCA.open(data)
    return data, ca.issue_card(TARO), ca.issue_card(HANAKO), ca.issue_card(JIRO)


def ref(cert) -> CertificateRef:
    return CertificateRef.from_der(cert.public_bytes(Encoding.DER))


def facts(f: profile.BasicFour) -> FourFacts:
    return FourFacts(name=f.name, birth_date=f.birth, sex=f.sex, address=f.address)


@pytest.fixture
def data_dir(cards, settings):
    settings.DATA_DIR = cards[0]
    return cards[0]


@pytest.mark.django_db
def test_check_finds_a_link_made_by_a_two_card_identify_and_refuse_lists_it(muni_a, data_dir, cards, capsys):
    _, taro, hanako, jiro = cards
    identify(muni_a, facts(JIRO), ref(jiro.auth_cert), ref(jiro.sign_cert))  # one card: fine
    # What the old ceremony code linked: 太郎's authentication certificate to 花子's Person
    # (the identity service itself never checked the pair).
    mixed = identify(muni_a, facts(HANAKO), ref(taro.auth_cert), ref(hanako.sign_cert))
    call_command("identity_cards", "check")
    out = capsys.readouterr().out
    assert f"person {mixed.public_id}: auth {ref(taro.auth_cert).sha256} not_after" in out
    assert "2 authentication credentials checked, 1 without a signature certificate of the same card" in out
    assert not RefusedCertificate.objects.exists()  # a check alone changes nothing

    call_command("identity_cards", "check", "--refuse")
    assert set(RefusedCertificate.objects.values_list("sha256", flat=True)) == {
        ref(taro.auth_cert).sha256, ref(hanako.sign_cert).sha256}
    assert person_for_credential(ref(taro.auth_cert)) is None  # card A no longer opens 花子's account
    assert person_for_credential(ref(jiro.auth_cert)) is not None
    assert AuditEvent.unscoped.filter(municipality=None, action="identity.card_mixture_refused").count() == 1


@pytest.mark.django_db
def test_release_is_the_operators_and_audited(muni_a, data_dir, cards, capsys):
    _, taro, *_ = cards
    sha = taro.auth_cert.fingerprint(hashes.SHA256()).hex()
    RefusedCertificate.objects.create(sha256=sha, purpose="auth", reason="not_after",
                                      refused_at=dt.datetime.now(dt.timezone.utc))
    identify_refused = ref(taro.auth_cert)
    assert is_refused(identify_refused) and person_for_credential(identify_refused) is None
    call_command("identity_cards", "list")
    assert f"{sha} auth not_after" in capsys.readouterr().out
    call_command("identity_cards", "release", sha.upper())
    assert not is_refused(identify_refused)
    assert AuditEvent.unscoped.filter(municipality=None, action="identity.card_released").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("argument,message", [("abc", "64 hex digits"), ("0" * 64, "not a refused certificate")])
def test_release_of_a_bad_or_unknown_digest_exits_2(data_dir, argument, message):
    with pytest.raises(CommandError, match=message) as error:
        call_command("identity_cards", "release", argument)
    assert error.value.returncode == 2
