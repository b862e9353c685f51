"""Signed documents: a receipt at submission and a decision on approval/rejection, rendered
by WeasyPrint, signed PAdES B-B by the municipality's development LGPKI identity, checked by
pyHanko and independently by poppler (pdfsig, pdffonts, pdftotext); the resident's and the
back office's permission-checked downloads."""

import subprocess

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django_tasks_db.models import DBTaskResult

from madoguchi.applications.services import transition
from madoguchi.applications.statemachine import Role, Status
from madoguchi.audit.models import AuditEvent
from madoguchi.documents import services
from madoguchi.documents.models import Document
from madoguchi.documents.tasks import issue_document
from madoguchi.municipalities.tenancy import tenant
from madoguchi.pki import lgpki, pades
from tests.applications.test_pages import signed_in
from tests.browser.conftest import ARTIFACTS
from tests.conftest import sign_in

from .conftest import submit_risai
from .independent import flip_signed_byte, nss_database, pdfsig


def text_of(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def fonts_of(path) -> str:
    return subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout


def write(tmp_path, document) -> object:
    path = tmp_path / f"{document.kind}.pdf"
    path.write_bytes(services.read(document))
    ARTIFACTS.mkdir(exist_ok=True)  # for a person to look at (pdftoppm)
    (ARTIFACTS / f"document-{document.kind}-{document.decision or 'issued'}.pdf").write_bytes(path.read_bytes())
    return path


def root_path():
    return lgpki.DevLGPKI.open(settings.DATA_DIR).root_path


def test_submission_enqueues_the_receipt_and_the_worker_task_issues_it_signed(catalog_a, taro, tmp_path):
    services.ensure_demo(catalog_a)
    application = submit_risai(catalog_a, taro)
    queued = [r for r in DBTaskResult.objects.all() if r.task_path.endswith("issue_document")]
    assert [r.args_kwargs["args"] for r in queued] == [["139998", str(application.public_id), "receipt"]]
    issue_document.call("139998", str(application.public_id), "receipt")
    with tenant(catalog_a):
        document = Document.objects.get(application=application)
        assert document.kind == "receipt" and document.signer_source == "development"
        assert AuditEvent.objects.filter(action="documents.issued", object_id=str(document.pk)).exists()
        # Idempotent: a second run (a retried task) returns the same document.
        assert services.issue(application, "receipt").pk == document.pk
    path = write(tmp_path, document)
    text = text_of(path)
    assert "受 付 票" in text or "受付票" in text
    assert application.receipt_number in text and "窓口" in text and "令和" in text
    assert "Noto" in fonts_of(path)
    verdict = pades.verify_pdf(path.read_bytes(), [lgpki.DevLGPKI.open(settings.DATA_DIR).root])
    assert verdict.ok and verdict.signer_cn == "窓口市 (development)", verdict
    report = pdfsig(path, nss_database(tmp_path / "nss", root_path()))
    assert report.signature_valid and report.trusted and report.whole_document, report.output
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(flip_signed_byte(path.read_bytes()))
    assert not pades.verify_pdf(tampered.read_bytes(), [lgpki.DevLGPKI.open(settings.DATA_DIR).root]).ok
    assert not pdfsig(tampered, tmp_path / "nss").signature_valid


def test_a_rare_character_in_a_name_is_drawn_with_ipamj_mincho(catalog_a, taro, tmp_path):
    taro.verified_name = "\U00020000田　太郎"  # 𠀀: in IPAmj明朝, not in Noto CJK
    taro.save()
    application = submit_risai(catalog_a, taro)
    document = services.issue(application, "receipt")
    path = write(tmp_path, document)
    assert "IPAmj" in fonts_of(path)
    assert "\U00020000田" in text_of(path)
    assert pades.verify_pdf(path.read_bytes(), [lgpki.DevLGPKI.open(settings.DATA_DIR).root]).ok


@pytest.mark.parametrize("decision", [Status.APPROVED, Status.REJECTED])
def test_a_decision_issues_the_decision_notice(catalog_a, taro, kikikanri_reviewer, decision, tmp_path):
    services.ensure_demo(catalog_a)
    reviewer, _device = kikikanri_reviewer
    application = submit_risai(catalog_a, taro)
    with tenant(catalog_a):
        transition(application, Status.RECEIVED, role=Role.REVIEWER, actor=reviewer)
        before = DBTaskResult.objects.count()
        transition(application, decision, role=Role.REVIEWER, actor=reviewer, comment="写真で被害を確認しました")
        (queued,) = DBTaskResult.objects.order_by("-enqueued_at")[: DBTaskResult.objects.count() - before]
        assert queued.args_kwargs["args"] == ["139998", str(application.public_id), "decision"]
    issue_document.call(*queued.args_kwargs["args"])
    with tenant(catalog_a):
        document = Document.objects.get(application=application, kind="decision")
    assert document.decision == decision
    path = write(tmp_path, document)
    text = text_of(path)
    assert ("承認" if decision == Status.APPROVED else "却下") in text
    assert "写真で被害を確認しました" in text
    assert ("審査請求" in text) == (decision == Status.REJECTED)
    assert "窓口市長" in text  # the issuer from the demo profile, with its generated seal
    report = pdfsig(path, nss_database(tmp_path / "nss", root_path()))
    assert report.signature_valid and report.trusted, report.output


def test_production_refuses_the_development_ca(catalog_a, taro, settings):
    settings.DOCUMENTS_DEVELOPMENT_CA_ALLOWED = False
    application = submit_risai(catalog_a, taro)
    with pytest.raises(services.DocumentError, match="install-key"):
        services.issue(application, "receipt")
    with tenant(catalog_a):
        assert not Document.objects.exists()


def test_install_key_command(catalog_a, taro, tmp_path, settings):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = lgpki.DevLGPKI.open(tmp_path / "operator-ca")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = other.issue_organisation("139998", "窓口市", key.public_key())
    (tmp_path / "k.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    (tmp_path / "c.pem").write_bytes(lgpki.pem(cert))
    (tmp_path / "chain.pem").write_bytes(lgpki.pem(other.intermediate))
    with pytest.raises(CommandError) as exc:
        call_command("documents_install_key", "--municipality", "139998", "--key", str(tmp_path / "c.pem"),
                     "--cert", str(tmp_path / "c.pem"))
    assert exc.value.returncode == 2
    with pytest.raises(CommandError):
        call_command("documents_install_key", "--municipality", "139998", "--key", str(tmp_path / "missing"),
                     "--cert", str(tmp_path / "c.pem"))
    call_command("documents_install_key", "--municipality", "139998", "--key", str(tmp_path / "k.pem"),
                 "--cert", str(tmp_path / "c.pem"), "--chain", str(tmp_path / "chain.pem"))
    settings.DOCUMENTS_DEVELOPMENT_CA_ALLOWED = False  # the installed key is used even in production
    document = services.issue(submit_risai(catalog_a, taro), "receipt")
    assert document.signer_source == "installed"
    assert pades.verify_pdf(services.read(document), [other.root]).ok
    assert not pades.verify_pdf(services.read(document), [lgpki.DevLGPKI.open(settings.DATA_DIR).root]).trusted


def test_resident_downloads_only_their_own(client, catalog_a, taro, hanako):
    document = services.issue(submit_risai(catalog_a, taro), "receipt")
    url = f"/139998/documents/{document.public_id}/"
    assert client.get(url).status_code == 302  # not signed in: to the card sign-in
    signed_in(client, catalog_a, hanako)
    assert client.get(url).status_code == 404
    signed_in(client, catalog_a, taro)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF-")
    assert "attachment" in response["Content-Disposition"]
    assert client.get("/139998/documents/not-a-uuid/").status_code == 404
    # The application's page and the notice link to it.
    page = client.get(f"/139998/applications/{document.application.public_id}/").content.decode()
    assert url in page
    assert url in client.get("/139998/applications/notices/").content.decode()


def test_staff_download_by_the_owning_department_audited(client, catalog_a, taro, kikikanri_reviewer,
                                                        other_reviewer, muni_b, admin_b):
    document = services.issue(submit_risai(catalog_a, taro), "receipt")
    url = f"/139998/staff/documents/{document.public_id}/"
    sign_in(client, catalog_a, *other_reviewer)
    assert client.get(url).status_code == 403
    listing = client.get(f"/139998/staff/documents/?receipt={document.application.receipt_number}")
    assert listing.status_code == 200 and str(document.public_id) not in listing.content.decode()
    client.logout()
    sign_in(client, catalog_a, *kikikanri_reviewer)
    listing = client.get(f"/139998/staff/documents/?receipt={document.application.receipt_number}").content.decode()
    assert str(document.public_id) in listing
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    with tenant(catalog_a):
        assert AuditEvent.objects.filter(action="documents.downloaded", object_id=str(document.pk)).exists()
    client.logout()
    sign_in(client, muni_b, *admin_b)
    assert client.get(url).status_code in (302, 403, 404)  # another municipality's staff: never the file


def test_seal_and_issuer_configured_in_the_admin(client, catalog_a, admin_a, tmp_path):
    from madoguchi.documents.models import DocumentProfile
    from madoguchi.documents.seal import demo_seal

    sign_in(client, catalog_a, *admin_a)
    form = client.get("/admin/documents/documentprofile/add/")
    assert form.status_code == 200
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = client.post("/admin/documents/documentprofile/add/", {
        "issuer_title": "窓口市長", "seal": SimpleUploadedFile("seal.png", b"GIF89a not a png")})
    assert bad.status_code == 200 and "PNG画像" in bad.content.decode()
    good = client.post("/admin/documents/documentprofile/add/", {
        "issuer_title": "窓口市長　見本　一郎", "seal": SimpleUploadedFile("seal.png", demo_seal("テスト"))})
    assert good.status_code == 302, good.content.decode()[:2000]
    with tenant(catalog_a):
        profile = DocumentProfile.objects.get()
        assert profile.issuer_title == "窓口市長　見本　一郎" and bytes(profile.seal_png).startswith(b"\x89PNG")
        assert AuditEvent.objects.filter(action="admin.documentprofile.added").exists()


def test_the_receipt_dates_in_one_style_and_the_seal_over_the_last_character(catalog_a, taro, tmp_path):
    """The date line is the era and the Western year, nothing appended; the seal is centred
    on 長 of 窓口市長 (the title stays readable: its text is extracted whole and drawn on top)."""
    import re

    services.ensure_demo(catalog_a)
    application = submit_risai(catalog_a, taro)
    document = services.issue(application, "receipt")
    path = write(tmp_path, document)
    text = text_of(path)
    assert re.search(r"受付日\s*令和\d+年\d+月\d+日（\d{4}年\d+月\d+日）\s*\n", text), text
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text)
    assert "窓口市長" in text.replace(" ", "")
    # Where 長 is drawn and where the seal is: pdftotext's bounding boxes and the page's image.
    boxes = subprocess.run(["pdftotext", "-bbox", "-f", "1", "-l", "1", str(path), "-"], capture_output=True,
                           text=True, check=True).stdout
    word = re.search(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">[^<]*市長</word>', boxes)
    assert word, boxes[:2000]
    png = tmp_path / "page"
    subprocess.run(["pdftoppm", "-png", "-r", "72", "-f", "1", "-l", "1", "-singlefile", str(path), str(png)], check=True)
    (ARTIFACTS / "documents-receipt-seal.png").write_bytes(png.with_suffix(".png").read_bytes())
    from PIL import Image

    image = Image.open(png.with_suffix(".png")).convert("RGB")
    reds = [(x, y) for x in range(image.width) for y in range(image.height)
            if (lambda p: p[0] > 150 and p[1] < 110 and p[2] < 110)(image.getpixel((x, y)))]
    assert reds, "no seal drawn"
    seal_x = sum(x for x, _ in reds) / len(reds)
    seal_y = sum(y for _, y in reds) / len(reds)
    x_min, y_min, x_max, y_max = map(float, word.groups())
    last_char_x = x_max - (y_max - y_min) / 2  # the last character: about one em from the right end
    assert abs(seal_x - last_char_x) < (y_max - y_min), (seal_x, last_char_x)
    assert y_min - 20 < seal_y < y_max + 20, (seal_y, y_min, y_max)
    assert seal_x > x_min + 2 * (y_max - y_min)  # not over the whole title: its first characters stay clear
