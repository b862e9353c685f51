"""Submitting: one transaction, constraints against duplicates, signatures, attachments, bad input."""

import datetime as dt
import os

import pytest
from django.core.files.storage import default_storage

from madoguchi.applications import services
from madoguchi.applications.models import Application, ApplicationEvent, Attachment, Notice
from madoguchi.applications.services import ApplicationError, Upload, submit, today_in_japan
from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.tenancy import tenant
from madoguchi.procedures.services import install

from .conftest import make_person, version_of
from .helpers import JUMINHYO, PDF, PNG, RISAI, SODAI, key, sign


def sodai(**changes):
    data = {**SODAI, "collection_date": (today_in_japan() + dt.timedelta(days=7)).isoformat()}
    data.update(changes)
    return data


def counts(municipality):
    with tenant(municipality):
        return (Application.objects.count(), ApplicationEvent.objects.count(), Notice.objects.count(),
                Attachment.objects.count(), AuditEvent.objects.exclude(action__startswith="ceremony.").count())


def stored_files(settings):
    root = settings.MEDIA_ROOT
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs) if os.path.exists(root) else []


def test_a_fee_stops_in_payment_required_with_history_notices_and_audit(catalog_a, taro):
    version = version_of(catalog_a, "sodai-gomi")
    application, created = submit(version, taro, sodai(small_items=2, large_items=1), idempotency_key=key())
    assert created
    with tenant(catalog_a):
        application.refresh_from_db()
        assert application.status == "payment_required"
        assert application.fee_yen == 2 * 400 + 1200
        assert application.receipt_number == f"{today_in_japan().year}-0000001"
        history = list(application.events.order_by("id").values_list("from_status", "to_status", "role"))
        assert history == [("draft", "submitted", "resident"), ("submitted", "payment_required", "system")]
        assert list(Notice.objects.filter(person=taro).values_list("kind", flat=True)) == ["submitted", "payment_required"]
        actions = list(AuditEvent.objects.filter(object_type="applications.application", object_id=str(application.pk)).values_list("action", flat=True))
        assert actions == ["applications.submitted", "applications.payment_required"]
        assert application.dedup_key == "household:H1"
        assert application.signature is None and application.version == version


def test_no_fee_stays_submitted_and_receipts_count_up(catalog_a, taro):
    first, _ = submit(version_of(catalog_a, "risai-shoumei"), taro, RISAI,
                      idempotency_key=key(), uploads=[Upload("photo.png", PNG)])
    second, _ = submit(version_of(catalog_a, "risai-shoumei"), taro, RISAI,
                       idempotency_key=key(), uploads=[Upload("photo.png", PNG)])
    assert (first.status, second.status) == ("submitted", "submitted")  # one_open_per none
    assert int(second.receipt_number[-7:]) == int(first.receipt_number[-7:]) + 1


def test_the_same_idempotency_key_returns_the_first_application(catalog_a, taro):
    version = version_of(catalog_a, "sodai-gomi")
    k = key()
    first, created = submit(version, taro, sodai(), idempotency_key=k)
    again, created_again = submit(version, taro, sodai(), idempotency_key=k)
    assert created and not created_again and again.pk == first.pk
    with pytest.raises(ApplicationError) as exc:
        submit(version, taro, sodai(small_items=3), idempotency_key=k)
    assert exc.value.code == "idempotency_conflict" and exc.value.status == 409
    with tenant(catalog_a):
        assert Application.objects.count() == 1


def test_one_open_application_per_household_until_withdrawn(catalog_a, taro, hanako):
    version = version_of(catalog_a, "sodai-gomi")
    first, _ = submit(version, taro, sodai(), idempotency_key=key())
    before = counts(catalog_a)
    with pytest.raises(ApplicationError) as exc:
        submit(version, hanako, sodai(applicant_name="見本　花子"), idempotency_key=key())  # same household
    assert exc.value.code == "duplicate" and exc.value.status == 409
    assert counts(catalog_a) == before
    services.withdraw(first, taro)
    again, created = submit(version, hanako, sodai(applicant_name="見本　花子"), idempotency_key=key())
    assert created and again.status == "payment_required"


def test_bad_idempotency_keys_are_refused(catalog_a, taro):
    for bad in ["", "short", "x" * 65, "spaces are bad here!", None]:
        with pytest.raises(ApplicationError) as exc:
            submit(version_of(catalog_a, "sodai-gomi"), taro, sodai(), idempotency_key=bad)
        assert exc.value.code == "invalid_idempotency_key"


def test_schema_violations_store_nothing(catalog_a, taro, settings):
    before = counts(catalog_a)
    with pytest.raises(ApplicationError) as exc:
        submit(version_of(catalog_a, "sodai-gomi"), taro, sodai(small_items=-1, phone="x", items=None),
               idempotency_key=key())
    assert exc.value.code == "invalid"
    assert set(exc.value.errors) == {"/small_items", "/phone", "/items"}
    for data in ["a string", [1, 2], {"x": "a" * (300 * 1024)}]:
        with pytest.raises(ApplicationError):
            submit(version_of(catalog_a, "sodai-gomi"), taro, data, idempotency_key=key())
    assert counts(catalog_a) == before and stored_files(settings) == []


def test_attachments_are_sniffed_sized_and_counted(catalog_a, taro, settings):
    version = version_of(catalog_a, "risai-shoumei")
    cases = [
        ([Upload("photo.png", b"GIF89a not allowed")], "/attachments/0"),  # sniffed, not named
        ([Upload("scan.pdf", b"<html>not a pdf</html>")], "/attachments/0"),
        ([Upload("big.png", PNG + b"\0" * (8 * 1024 * 1024))], "/attachments/0"),
        ([], "/attachments"),  # min_count 1
        ([Upload("p.png", PNG)] * 11, "/attachments"),
    ]
    for uploads, where in cases:
        with pytest.raises(ApplicationError) as exc:
            submit(version, taro, RISAI, idempotency_key=key(), uploads=uploads)
        assert where in exc.value.errors, exc.value.errors
    settings.APPLICATION_ATTACHMENT_MAX_BYTES = 100
    with pytest.raises(ApplicationError):
        submit(version, taro, RISAI, idempotency_key=key(), uploads=[Upload("p.pdf", PDF + b"\0" * 100)])
    settings.APPLICATION_ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
    assert stored_files(settings) == []
    application, _ = submit(version, taro, RISAI, idempotency_key=key(),
                            uploads=[Upload("../../etc/被害\x00写真.pdf", PDF), Upload("roof.png", PNG)])
    with tenant(catalog_a):
        attachments = list(application.attachments.order_by("id"))
    assert [(a.name, a.content_type, a.size, a.sanitisation) for a in attachments] == [
        ("被害写真.pdf", "application/pdf", len(PDF), "pending"), ("roof.png", "image/png", len(PNG), "pending")]
    import hashlib
    assert attachments[0].sha256 == hashlib.sha256(PDF).hexdigest()
    with default_storage.open(attachments[0].file.name) as stored:
        assert stored.read() == PDF


def test_a_crash_midway_leaves_nothing(catalog_a, taro, settings, monkeypatch):
    before = counts(catalog_a)

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    # The last step (the audit events): after the row, numbers, files, history, notices and tasks are written.
    monkeypatch.setattr(services.submission, "_audit", boom)
    with pytest.raises(RuntimeError):
        submit(version_of(catalog_a, "risai-shoumei"), taro, RISAI, idempotency_key=key(),
               uploads=[Upload("p.png", PNG)])
    assert counts(catalog_a) == before
    assert stored_files(settings) == []


def test_closed_retired_and_other_municipality_procedures(catalog_a, muni_b, taro):
    import copy

    from madoguchi.procedures.services import catalog_dir
    import json

    definition = json.loads((catalog_dir() / "sodai-gomi.json").read_text(encoding="utf-8"))
    old = version_of(catalog_a, "sodai-gomi")
    closed = copy.deepcopy(definition)
    closed["open_period"] = {"until": "2020-03-31"}
    install(catalog_a, closed)
    with pytest.raises(ApplicationError) as exc:
        submit(version_of(catalog_a, "sodai-gomi"), taro, sodai(), idempotency_key=key())
    assert exc.value.code == "closed"
    old.refresh_from_db()
    with pytest.raises(ApplicationError) as exc:  # a retired version takes no new applications
        submit(old, taro, sodai(), idempotency_key=key())
    assert exc.value.code == "closed"
    install(muni_b, definition)
    with tenant(catalog_a), pytest.raises(ApplicationError) as exc:
        submit(version_of(muni_b, "sodai-gomi"), taro, sodai(), idempotency_key=key())
    assert exc.value.code == "not_found" and exc.value.status == 404


def test_eligibility_residents_only_and_age(catalog_a, pki, taro):
    stranger = make_person(type("F", (), {"name": "旅人", "birth": dt.date(1990, 1, 1), "sex": "1",
                                          "address": "大阪府どこか"})())
    with pytest.raises(ApplicationError) as exc:
        submit(version_of(catalog_a, "sodai-gomi"), stranger, sodai(), idempotency_key=key())
    assert exc.value.code == "not_eligible" and exc.value.status == 403


def test_household_members_must_be_of_the_household(catalog_a, taro):
    from madoguchi.procedures.definition import data_errors  # noqa: F401
    version = version_of(catalog_a, "tenshutsu")
    data = {"applicant_name": "窓口　太郎", "applicant_birth_date": "1980-04-01",
            "applicant_address": "東京都窓口市本町一丁目1番1号", "phone": "03-0000-0000",
            "move_date": today_in_japan().isoformat(), "new_postal_code": "100-0001",
            "new_address": "東京都千代田区千代田1番1号", "new_municipality": "千代田区",
            "movers": ["100001", "999999"], "visit_date": today_in_japan().isoformat()}
    with pytest.raises(ApplicationError) as exc:
        services.prepare(version, taro, data)
    assert exc.value.errors == {"/movers/1": ["同じ世帯の方から選んでください。"]}


# --- signatures -------------------------------------------------------------------------


def test_a_signed_application_stores_the_exact_bytes_cms_and_verification(catalog_a, pki, taro):
    version = version_of(catalog_a, "juminhyo-copy")
    with pytest.raises(ApplicationError) as exc:
        submit(version, taro, JUMINHYO, idempotency_key=key())
    assert exc.value.code == "signature_required"
    signed = sign(pki.taro, version, taro, JUMINHYO)
    application, created = submit(version, taro, JUMINHYO, idempotency_key=key(), signed=signed)
    with tenant(catalog_a):
        application.refresh_from_db()
    assert bytes(application.document) == signed.document
    assert bytes(application.signature) == signed.cms
    assert application.verification["sign"]["verdict"] == "valid"
    assert application.status == "payment_required" and application.fee_yen == 600
    import json
    document = json.loads(signed.document)
    assert set(document) == {"procedure", "version", "data", "attachments", "nonce"}
    assert document["procedure"] == "juminhyo-copy" and document["version"] == version.number
    with tenant(catalog_a):
        assert application.events.get(to_status="submitted").signed


def test_tampered_other_data_and_wrong_signer_are_refused(catalog_a, pki, taro, hanako):
    version = version_of(catalog_a, "juminhyo-copy")
    before = counts(catalog_a)
    # A signature over other data: the resident signed 1 copy, the request asks for 2.
    signed_one = sign(pki.taro, version, taro, {**JUMINHYO, "copies": 1})
    with pytest.raises(ApplicationError) as exc:
        submit(version, taro, JUMINHYO, idempotency_key=key(), signed=signed_one)
    assert exc.value.code == "signature_mismatch"
    # The document swapped after signing (same nonce, other bytes): the CMS does not verify.
    good = sign(pki.taro, version, taro, JUMINHYO)
    from madoguchi.applications.services import Signed
    other = services.prepare(version, taro, {**JUMINHYO, "copies": 3}, nonce=services.common._nonce_of(good.document))
    with pytest.raises(ApplicationError) as exc:
        submit(version, taro, {**JUMINHYO, "copies": 3}, idempotency_key=key(),
               signed=Signed(document=other.document, cms=good.cms))
    assert exc.value.code == "signature_invalid"
    # A corrupted CMS.
    broken = bytearray(good.cms)
    broken[-5] ^= 0xFF
    with pytest.raises(ApplicationError) as exc:
        submit(version, taro, JUMINHYO, idempotency_key=key(), signed=Signed(good.document, bytes(broken)))
    assert exc.value.code == "signature_invalid"
    with pytest.raises(ApplicationError) as exc:
        submit(version, taro, JUMINHYO, idempotency_key=key(), signed=Signed(good.document, b"not a cms"))
    assert exc.value.code == "signature_invalid"
    # Hanako's card signing Taro's application.
    with pytest.raises(ApplicationError) as exc:
        submit(version, taro, JUMINHYO, idempotency_key=key(), signed=sign(pki.hanako, version, taro, JUMINHYO))
    assert exc.value.code == "wrong_signer" and exc.value.status == 403
    assert counts(catalog_a) == before
