"""Issuing 住民票の写し and 住民票記載事項証明書 from the resident record: the subject is the
signed-in person's own record (and household), what is printed is what the resident chose,
the PDF is signed by the municipality and its issue log records the record's version."""

import hashlib
import subprocess

import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.certificates import services
from madoguchi.certificates.models import Certificate, CertificateType
from madoguchi.municipalities.tenancy import tenant
from madoguchi.pki import pades
from madoguchi.residents.models import ResidentRecord
from tests.applications.conftest import link, make_person

from .conftest import flat, pdf_text


def issue(municipality, person, **kwargs):
    with tenant(municipality):
        return services.issue(person, **{"kind": "resident_copy", **kwargs})


def test_a_resident_copy_carries_only_the_requester_s_record_and_is_signed(muni_a, taro, hanako):
    with tenant(muni_a):
        ResidentRecord.objects.filter(resident_number="100001").update(domicile="東京都窓口市本町一丁目1番地",
                                                                       family_register_head="窓口　太郎")
    certificate = issue(muni_a, taro)
    with tenant(muni_a):
        data = services.read(certificate)
        record = ResidentRecord.objects.get(resident_number="100001")
    assert hashlib.sha256(data).hexdigest() == certificate.sha256 and len(data) == certificate.size
    text = pdf_text(data)
    assert flat("住民票（写し）") in text and flat(taro.verified_name) in text and flat(hanako.verified_name) not in text
    assert flat("この写しは、住民票の原本と相違ないことを証明する。") in text and certificate.issue_number in text
    assert flat("本籍") not in text  # not asked for: never printed
    assert f"https://madoguchi.example/{muni_a.code}/verify/{certificate.issue_number}/" in text
    assert certificate.subject_record_id == record.pk and certificate.requester_id == taro.pk
    assert certificate.record_version == record.updated_at and len(certificate.record_digest) == 64
    with tenant(muni_a):
        verdict = pades.verify_pdf(data, services.documents.trust_roots(muni_a))
    assert verdict.ok, verdict.summary
    with tenant(muni_a):
        event = AuditEvent.objects.get(action="certificates.issued")
    assert event.data["issue_number"] == certificate.issue_number
    assert taro.verified_name not in str(event.data)  # the log names the record by version, not by name


def test_the_household_and_the_chosen_facts_are_printed(muni_a, taro, hanako):
    with tenant(muni_a):
        ResidentRecord.objects.filter(household_id="H1").update(domicile="東京都窓口市本町一丁目1番地",
                                                                family_register_head="窓口　太郎")
        ResidentRecord.objects.filter(resident_number="100002").update(relationship="妻")
    certificate = issue(muni_a, taro, scope="household",
                        options={"domicile": True, "relationship": True, "household_head": True}, purpose="銀行口座の開設")
    with tenant(muni_a):
        text = pdf_text(services.read(certificate))
    assert flat(taro.verified_name) in text and flat(hanako.verified_name) in text
    assert flat("本籍") in text and flat("東京都窓口市本町一丁目1番地") in text and flat("筆頭者") in text and flat("妻") in text
    assert flat("世帯主") in text and flat("使いみち・提出先:銀行口座の開設") in text
    facts = issue(muni_a, hanako, kind="resident_facts")
    with tenant(muni_a):
        text = pdf_text(services.read(facts))
    assert flat("住民票記載事項証明書") in text and flat("上記の事項は、住民票に記載されていることを証明する。") in text
    assert flat(hanako.verified_name) in text and flat(taro.verified_name) not in text


@pytest.mark.parametrize("change, field, words", [
    ({"support_measure": True}, "", "窓口へお越しください"),
    ({"under_correction": True}, "", "記載を修正中"),
    ({"status": "moved_out"}, "", "住民登録がない"),
])
def test_records_that_cannot_be_issued_online_say_where_to_go(muni_a, taro, change, field, words):
    with tenant(muni_a):
        ResidentRecord.objects.filter(resident_number="100001").update(**change)
    with pytest.raises(services.CertificateRefused) as refused:
        issue(muni_a, taro)
    assert refused.value.field == field and words in str(refused.value)
    with tenant(muni_a):
        assert not Certificate.objects.exists()


def test_bad_requests_are_refused_naming_the_field(muni_a, taro, muni_b):
    for kwargs, field in [({"kind": "koseki"}, "kind"), ({"scope": "everyone"}, "scope"),
                          ({"purpose": "x" * 101}, "purpose"), ({"purpose": "改行\n入り"}, "purpose")]:
        with pytest.raises(services.CertificateRefused) as refused:
            issue(muni_a, taro, **kwargs)
        assert refused.value.field == field
    with tenant(muni_a):
        CertificateType.objects.filter(kind="resident_facts").update(enabled=False)
    with pytest.raises(services.CertificateRefused):
        issue(muni_a, taro, kind="resident_facts")  # a type this municipality does not offer
    stranger = make_person(type("F", (), {"name": "他市　次郎", "birth": taro.verified_birth_date, "sex": "1",
                                          "address": "他県他市"})())
    with pytest.raises(services.CertificateRefused) as refused:
        issue(muni_a, stranger)  # no resident record here
    assert "結び付いていません" in str(refused.value)
    link(muni_b, stranger, "900001")
    with pytest.raises(services.CertificateRefused):
        issue(muni_a, stranger)  # a record in another municipality is not this one's to certify
    with tenant(muni_a):
        assert not Certificate.objects.exists()


def test_issue_numbers_are_normalised_and_malformed_ones_refused():
    number = services.new_issue_number()
    assert services.ISSUE_NUMBER.match(number)
    assert services.normalise_issue_number(number.lower().replace("-", "")) == number
    assert services.normalise_issue_number("O000-1111-2222-3333") == "0000-1111-2222-3333"
    for bad in ["", "1234", "UUUU-1111-2222-3333", "../../etc/passwd", "x" * 5000, "1234-5678-9ABC-DEF!"]:
        assert services.normalise_issue_number(bad) is None


def test_a_seal_certificate_carries_the_registered_impression_only_for_a_registration(muni_a, taro, hanako):
    import datetime as dt

    from madoguchi.documents.seal import demo_personal_seal
    from madoguchi.residents.services import register_seal

    register_seal(muni_a, "100001", registration_number="S-9", impression_png=demo_personal_seal("窓口"),
                  registered_on=dt.date(2020, 4, 1))
    certificate = issue(muni_a, taro, kind="seal", scope="household", options={"domicile": True})
    assert certificate.scope == "person" and not any(certificate.options.values())  # never a household's seal
    with tenant(muni_a):
        data = services.read(certificate)
    text = pdf_text(data)
    assert flat("印鑑登録証明書") in text and flat("この写しは、登録されている印影と相違ないことを証明する。") in text
    assert "S-9" in text and flat(taro.verified_name) in text and flat(hanako.verified_name) not in text
    images = subprocess.run(["pdfimages", "-list", "-"], input=data, capture_output=True).stdout.decode()
    assert len([line for line in images.splitlines()[2:] if line.strip()]) >= 1  # the impression is embedded
    with pytest.raises(services.CertificateRefused) as refused:
        issue(muni_a, hanako, kind="seal")
    assert refused.value.field == "kind" and "印鑑登録がない" in str(refused.value)
    with tenant(muni_a):
        from madoguchi.residents.models import SealRegistration

        SealRegistration.objects.update(abolished_on=dt.date(2026, 1, 1))
    with pytest.raises(services.CertificateRefused):
        issue(muni_a, taro, kind="seal")  # an abolished registration certifies nothing


def test_a_record_changed_while_it_was_printed_is_printed_again(muni_a, taro, monkeypatch):
    # The core system changes the address between the read and the write: the certificate
    # stored carries the new address, never the old one, and the first PDF is thrown away.
    original = services.render
    calls = []

    def render_then_change(*args, **kwargs):
        pdf = original(*args, **kwargs)
        if not calls:
            with tenant(muni_a):
                record = ResidentRecord.objects.get(resident_number="100001")
                record.address = "東京都窓口市新町九丁目9番9号"
                record.save()
        calls.append(1)
        return pdf

    monkeypatch.setattr(services, "render", render_then_change)
    certificate = issue(muni_a, taro)
    assert len(calls) == 2
    with tenant(muni_a):
        text = pdf_text(services.read(certificate))
        record = ResidentRecord.objects.get(resident_number="100001")
    assert flat("新町九丁目9番9号") in text and certificate.record_version == record.updated_at
    with tenant(muni_a):
        assert Certificate.objects.count() == 1


def test_pdfsig_and_madoguchi_pki_verify_pdf_accept_a_certificate(muni_a, taro, tmp_path, settings):
    import sys

    from madoguchi.pki import lgpki
    from tests.documents.independent import nss_database, pdfsig

    certificate = issue(muni_a, taro)
    path = tmp_path / "certificate.pdf"
    with tenant(muni_a):
        path.write_bytes(services.read(certificate))
    root = lgpki.DevLGPKI.open(settings.DATA_DIR).root_path
    report = pdfsig(path, nss_database(tmp_path / "nss", root))
    assert report.signature_valid and report.trusted and report.whole_document, report.output
    cli = subprocess.run([sys.executable, "-m", "madoguchi", "pki", "verify-pdf", str(path), "--trust", str(root)],
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0 and "verdict: valid" in cli.stdout, cli.stdout + cli.stderr
