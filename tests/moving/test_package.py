"""The signed 転出 package: signed with the origin's document key, verified against the
trust roots, every tampering refused with one line."""
import base64
import json

import pytest

from madoguchi.documents import services as documents
from madoguchi.moving import package

PAYLOAD = {"kind": "tenshutsu", "origin": "139998", "destination": "279994",
           "move_out_on": "2026-12-20", "application": "139998-000001",
           "persons": [{"name": "窓口 太郎", "name_kana": "まどぐち たろう", "birth_date": "1980-04-01"}]}


@pytest.fixture(autouse=True)
def documents_settings(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.DOCUMENTS_DEVELOPMENT_CA_ALLOWED = True
    documents.forget_signers()
    return settings


@pytest.fixture
def signed(muni_a):
    identity = documents.ensure_demo(muni_a)
    return package.sign(identity, PAYLOAD)


def test_round_trip(muni_a, muni_b, signed):
    documents.ensure_demo(muni_b)
    payload, signer = package.verify(signed, documents.trust_roots(muni_b))
    assert payload == PAYLOAD
    assert signer == documents.identity(muni_a).certificate


def rewrite(signed, **changes):
    envelope = json.loads(signed)
    envelope.update(changes)
    return json.dumps(envelope).encode()


@pytest.mark.parametrize("mutate, message", [
    (lambda s: b"not json", "not a JSON package"),
    (lambda s: b"[]", "not a madoguchi-moving/1 package"),
    (lambda s: rewrite(s, payload=base64.b64encode(package.canonical({**PAYLOAD, "destination": "131016"})).decode()),
     "signature does not verify"),
    (lambda s: rewrite(s, signature="%%%"), "not base64"),
    (lambda s: rewrite(s, certificates=[]), "no certificate"),
    (lambda s: rewrite(s, algorithm="ES256"), "algorithm does not match"),
])
def test_tampering_refused(muni_a, signed, mutate, message):
    with pytest.raises(package.PackageError, match=message):
        package.verify(mutate(signed), documents.trust_roots(muni_a))


def test_untrusted_root_refused(muni_a, signed, settings):
    with pytest.raises(package.PackageError, match="trusted root"):
        package.verify(signed, [])


def test_individual_number_never_signed(muni_a):
    identity = documents.ensure_demo(muni_a)
    with pytest.raises(package.PackageError, match="individual_number"):
        package.sign(identity, {**PAYLOAD, "persons": [{"individual_number": "123456789012"}]})
