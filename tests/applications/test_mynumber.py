"""Individual numbers: validated, sealed with AES-GCM and a key id, masked, revealed only to
a reviewer of the owning department with an audit event, and nowhere else at all."""

import base64
import json
import logging
import os
import stat

import pytest
from cryptography.exceptions import InvalidTag
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured, PermissionDenied

from madoguchi.applications import mynumber, notices, services
from madoguchi.applications.models import Application, IndividualNumber, Notice
from madoguchi.applications.services import ApplicationError, Upload, reveal, submit
from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.tenancy import tenant

from .conftest import version_of
from .helpers import PDF, as_typed, key, masked, sign, synthetic_number, wrong_check_digit

APPLICANT_NUMBER = synthetic_number(11)  # made at run time: no individual number is committed
CHILD_NUMBER = synthetic_number(12)
WRONG_NUMBER = wrong_check_digit(synthetic_number(13))


def key_spec(kid, seed):
    return f"{kid}:" + base64.b64encode(bytes([seed]) * 32).decode()


def jidou(applicant_number=APPLICANT_NUMBER, child_number=CHILD_NUMBER):
    return {"applicant_name": "窓口　太郎", "applicant_birth_date": "1980-04-01",
            "applicant_address": "東京都窓口市本町一丁目1番1号", "phone": "03-0000-0000",
            "applicant_mynumber": applicant_number, "has_spouse": False,
            "children": [{"name": "窓口　一郎", "birth_date": "2015-05-05", "relationship": "child",
                          "mynumber": child_number, "living_together": True}],
            "bank_code": "0001", "branch_code": "001", "account_type": "ordinary", "account_number": "1234567",
            "account_holder_kana": "マドグチ　タロウ"}


def test_mask_normalize_validate():
    assert mynumber.mask(APPLICANT_NUMBER) == APPLICANT_NUMBER[:4] + " **** ****"
    assert mynumber.normalize(as_typed(APPLICANT_NUMBER).replace(" ", "-", 1)) == APPLICANT_NUMBER
    for seed in range(200):
        number = synthetic_number(seed)
        assert mynumber.is_valid(number) and not mynumber.is_valid(wrong_check_digit(number))
    assert not mynumber.is_valid(APPLICANT_NUMBER[:11]) and not mynumber.is_valid(None)


@pytest.mark.parametrize("spec, message", [
    ("nokid", "kid:base64"), ("bad id!:AAAA", "kid:base64"), ("k1:***", "not base64"),
    ("k1:" + base64.b64encode(b"short").decode(), "32 bytes"),
    (key_spec("k1", 1) + "," + key_spec("k1", 2), "appears twice"),
])
def test_bad_key_configuration_is_refused(spec, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        mynumber.parse_keys(spec)


def test_development_key_is_generated_once_and_production_refuses_without_keys(settings, tmp_path):
    settings.MYNUMBER_KEYS = ""
    settings.DATA_DIR = tmp_path
    kid, sealed = mynumber.seal(b"x", b"aad")
    path = tmp_path / "mynumber.key"
    assert kid == "dev1" and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert mynumber.unseal(kid, sealed, b"aad") == b"x"
    first = path.read_text()
    mynumber.seal(b"y", b"aad")
    assert path.read_text() == first
    settings.MYNUMBER_DEVELOPMENT_KEY_ALLOWED = False
    with pytest.raises(mynumber.KeysUnavailable):
        mynumber.seal(b"x", b"aad")
    import subprocess
    import sys

    flag = subprocess.run([sys.executable, "-c", "import madoguchi.settings.base as b; "
                           "print(b.MYNUMBER_DEVELOPMENT_KEY_ALLOWED)"],
                          env={**os.environ, "MADOGUCHI_ENV": "production", "MADOGUCHI_SECRET_KEY": "k" * 60,
                               "MADOGUCHI_ALLOWED_HOSTS": "city.example.jp"}, capture_output=True, text=True)
    assert flag.stdout.strip() == "False", flag.stderr


def test_keys_rotate_and_the_associated_data_binds(settings):
    settings.MYNUMBER_KEYS = key_spec("old", 1)
    kid, sealed = mynumber.seal(APPLICANT_NUMBER.encode(), b"place-1")
    settings.MYNUMBER_KEYS = key_spec("new", 2) + "," + key_spec("old", 1)
    assert mynumber.unseal(kid, sealed, b"place-1").decode() == APPLICANT_NUMBER
    assert mynumber.seal(b"x", b"a")[0] == "new"
    with pytest.raises(InvalidTag):
        mynumber.unseal(kid, sealed, b"place-2")
    settings.MYNUMBER_KEYS = key_spec("new", 2)
    with pytest.raises(mynumber.KeysUnavailable):
        mynumber.unseal(kid, sealed, b"place-1")


@pytest.fixture
def submitted(catalog_a, pki, taro):
    version = version_of(catalog_a, "jidou-teate")
    typed = jidou(applicant_number=as_typed(APPLICANT_NUMBER))  # as a phone keyboard may type it
    uploads = [Upload("保険証.pdf", PDF)]
    signed = sign(pki.taro, version, taro, typed, uploads)
    application, _ = submit(version, taro, typed, idempotency_key=key(), signed=signed, uploads=uploads)
    with tenant(catalog_a):
        application.refresh_from_db()
    return application


def test_numbers_are_masked_sealed_and_the_signed_bytes_kept(submitted, catalog_a):
    application = submitted
    assert application.data["applicant_mynumber"] == masked(APPLICANT_NUMBER)
    assert application.data["children"][0]["mynumber"] == masked(CHILD_NUMBER)
    with tenant(catalog_a):
        rows = {r.pointer: r for r in IndividualNumber.objects.filter(application=application)}
    assert set(rows) == {"/applicant_mynumber", "/children/0/mynumber"}
    assert all(r.key_id == "test1" for r in rows.values())
    assert application.document_key_id == "test1"
    assert APPLICANT_NUMBER.encode() not in bytes(application.document)
    document = services.signed_document(application)
    assert json.loads(document)["data"]["applicant_mynumber"] == APPLICANT_NUMBER
    import hashlib
    assert hashlib.sha256(document).hexdigest() == application.document_sha256
    # A sealed number moved to another place does not open there.
    with tenant(catalog_a):
        applicant = rows["/applicant_mynumber"]
        with pytest.raises(InvalidTag):
            mynumber.unseal(applicant.key_id, applicant.sealed, services.common._aad(application, "/children/0/mynumber"))


def test_reveal_only_to_a_reviewer_of_the_owning_department_with_an_audit_event(
        submitted, catalog_a, reviewer_kosodate, reviewer_shimin, admin_a, viewer_a):
    for user in (reviewer_shimin, admin_a[0], viewer_a[0], None):
        with pytest.raises(PermissionDenied):
            reveal(submitted, "/applicant_mynumber", user)
    with tenant(catalog_a):
        assert not AuditEvent.objects.filter(action="applications.mynumber_revealed").exists()
    assert reveal(submitted, "/applicant_mynumber", reviewer_kosodate) == APPLICANT_NUMBER
    assert reveal(submitted, "/children/0/mynumber", reviewer_kosodate) == CHILD_NUMBER
    with pytest.raises(ApplicationError) as exc:
        reveal(submitted, "/phone", reviewer_kosodate)
    assert exc.value.status == 404
    with tenant(catalog_a):
        events = list(AuditEvent.objects.filter(action="applications.mynumber_revealed").order_by("seq"))
    assert [(e.actor_id, e.data["pointer"]) for e in events] == [
        (str(reviewer_kosodate.pk), "/applicant_mynumber"), (str(reviewer_kosodate.pk), "/children/0/mynumber")]


def test_a_wrong_check_digit_is_a_field_error_and_stores_nothing(catalog_a, pki, taro):
    version = version_of(catalog_a, "jidou-teate")
    with pytest.raises(ApplicationError) as exc:
        submit(version, taro, jidou(child_number=WRONG_NUMBER), idempotency_key=key())
    assert list(exc.value.errors) == ["/children/0/mynumber"]
    assert WRONG_NUMBER not in json.dumps(exc.value.errors, ensure_ascii=False) + str(exc.value)
    with tenant(catalog_a):
        assert not Application.objects.exists() and not IndividualNumber.objects.exists()


def test_numbers_are_deleted_with_the_application(submitted, catalog_a):
    with tenant(catalog_a):
        submitted.attachments.all().delete()
        submitted.notices.all().delete()
        submitted.events.all().delete()
        Application.objects.filter(pk=submitted.pk).delete()
        assert not IndividualNumber.objects.exists()


def _strings(value):
    if isinstance(value, memoryview | bytes | bytearray):
        return [bytes(value).decode("latin-1")]
    if isinstance(value, dict | list):
        return [json.dumps(value, ensure_ascii=False)]
    return [str(value)]


def test_the_number_appears_nowhere_else(catalog_a, pki, taro, reviewer_kosodate, caplog):
    caplog.set_level(logging.DEBUG)
    version = version_of(catalog_a, "jidou-teate")
    data = jidou()
    application, _ = submit(version, taro, data, idempotency_key=key(), signed=sign(pki.taro, version, taro, data))
    services.transition(application, "received", role="reviewer", actor=reviewer_kosodate)
    services.transition(application, "returned", role="reviewer", actor=reviewer_kosodate)
    reveal(application, "/applicant_mynumber", reviewer_kosodate)
    with pytest.raises(ApplicationError):  # an invalid number in a resubmission is not echoed either
        services.resubmit(application, taro, jidou(child_number=WRONG_NUMBER))
    secrets = [APPLICANT_NUMBER, CHILD_NUMBER, APPLICANT_NUMBER[4:], CHILD_NUMBER[4:], WRONG_NUMBER]
    found = []
    for model in apps.get_models():
        for row in model._base_manager.values():
            for column, value in row.items():
                for text in _strings(value):
                    if any(s in text for s in secrets):
                        found.append(f"{model._meta.label}.{column}")
    assert found == []
    logs = "\n".join(r.getMessage() + json.dumps(r.__dict__, default=str, ensure_ascii=False) for r in caplog.records)
    assert not any(s in logs for s in secrets)
    with tenant(catalog_a):
        texts = [notices.text(n) for n in Notice.objects.filter(person=taro)]
        application.refresh_from_db()
        serialised = json.dumps([services.serialize(application), services.export_row(application)], ensure_ascii=False)
    assert texts and not any(s in t for t in texts for s in secrets)
    assert application.receipt_number in texts[0]
    assert masked(APPLICANT_NUMBER) in serialised and not any(s in serialised for s in secrets)
