"""無害化: images rebuilt without metadata, PDFs rewritten without active content; what
cannot be made safe is rejected with a reason. Hostile inputs are built here with the same
libraries a hostile sender would use."""

import io
import zlib
import struct

import pikepdf
import pytest
from PIL import Image, PngImagePlugin

from madoguchi.applications.sanitise import Rejected, sanitise


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (40, 20), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to view
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps[2] = (35.0, 41.0, 22.0)  # GPSLatitude
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "住所: 東京都窓口市本町一丁目1番1号")
    out = io.BytesIO()
    Image.new("RGB", (10, 10), (0, 0, 255)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def png_bomb(width=100_000, height=100_000) -> bytes:
    """A PNG whose header claims 10 gigapixels: a few hundred bytes on the wire."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")


def hostile_pdf() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    js = pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('x')")))
    pdf.Root.OpenAction = js
    pdf.Root.AA = pikepdf.Dictionary(WC=js)
    embedded = pikepdf.AttachedFileSpec(pdf, b"MZ evil", filename="evil.exe")
    pdf.attachments["evil.exe"] = embedded
    pdf.Root.Names.JavaScript = pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("a"), js]))
    launch = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 50, 50],
                                A=pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("calc.exe")))
    link = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[60, 0, 90, 50],
                              A=pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("https://example.jp/")))
    media = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.RichMedia, Rect=[0, 60, 50, 90])
    pdf.pages[0].Annots = pdf.make_indirect(pikepdf.Array([launch, link, media]))
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array(), XFA=pikepdf.String("<xdp/>"))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def test_a_photo_loses_its_exif_and_stands_upright():
    original = jpeg_with_gps()
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif().get_ifd(0x8825)  # the place it was taken is in there
    result = sanitise(original, "image/jpeg")
    assert "exif" in result.removed and result.content_type == "image/jpeg"
    with Image.open(io.BytesIO(result.content)) as after:
        assert not after.getexif() and "exif" not in after.info
        assert after.size == (20, 40)  # turned by its orientation before the orientation was dropped
        r, g, b = after.convert("RGB").getpixel((10, 20))
        assert r > 150 and g < 60 and b < 60
    assert b"PhoneMaker" not in result.content


def test_png_text_chunks_are_dropped():
    result = sanitise(png_with_text(), "image/png")
    assert "Comment" in result.removed
    with Image.open(io.BytesIO(result.content)) as after:
        assert after.info.get("Comment") is None and after.getpixel((0, 0))[:3] == (0, 0, 255)
    assert "窓口市".encode() not in result.content


def test_a_pdf_keeps_its_pages_and_loses_active_content():
    result = sanitise(hostile_pdf(), "application/pdf")
    with pikepdf.open(io.BytesIO(result.content)) as pdf:
        assert len(pdf.pages) == 1
        assert "/OpenAction" not in pdf.Root and "/AA" not in pdf.Root and "/XFA" not in pdf.Root.AcroForm
        assert "/JavaScript" not in pdf.Root.Names and "/EmbeddedFiles" not in pdf.Root.Names
        assert len(pdf.attachments) == 0
        annots = list(pdf.pages[0].Annots)
        assert [a.Subtype for a in annots] == ["/Link", "/Link"]
        assert "/A" not in annots[0] and annots[1].A.S == "/URI"  # a plain link stays
    for needle in (b"app.alert", b"calc.exe", b"MZ evil"):
        assert needle not in result.content
    assert {"catalog /OpenAction", "names /JavaScript", "names /EmbeddedFiles", "XFA form",
            "page 1 /Launch action", "page 1 /RichMedia annotation"} <= set(result.removed)


def test_a_clean_pdf_stays_readable_with_nothing_removed():
    pdf = pikepdf.new()
    pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out)
    result = sanitise(out.getvalue(), "application/pdf")
    assert result.removed == []
    with pikepdf.open(io.BytesIO(result.content)) as again:
        assert len(again.pages) == 1


def encrypted_pdf() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(owner="o", user="secret"))
    return out.getvalue()


@pytest.mark.parametrize("content, content_type, reason", [
    (png_bomb(), "image/png", "over the limit"),  # Pillow's own bomb check
    (png_bomb(8000, 8000), "image/png", "over the limit"),  # 64 megapixels: ours
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png", "not a readable PNG"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 10, "image/jpeg", "not a readable JPEG"),
    (png_with_text(), "image/jpeg", "not a readable JPEG"),  # the type was sniffed; a mismatch is not trusted
    (b"%PDF-1.7\n" + b"\x00garbage" * 100, "application/pdf", "not a readable PDF"),
    (encrypted_pdf(), "application/pdf", "encrypted PDF"),
    (b"GIF89a", "image/gif", "unsupported type"),
], ids=["bomb", "bomb-64mp", "png-garbage", "jpeg-truncated", "type-mismatch", "pdf-garbage", "pdf-encrypted", "gif"])
def test_what_cannot_be_made_safe_is_rejected_with_a_reason(content, content_type, reason):
    with pytest.raises(Rejected) as exc:
        sanitise(content, content_type)
    assert reason in exc.value.reason


# The service: what a submission queues and what the worker stores.

from django.core.files.storage import default_storage  # noqa: E402
from django_tasks_db.models import DBTaskResult  # noqa: E402

from madoguchi.applications.models import Attachment  # noqa: E402
from madoguchi.applications.services import Upload, submit  # noqa: E402
from madoguchi.applications.tasks import sanitise_application_attachments, sanitise_pending  # noqa: E402
from madoguchi.audit.models import AuditEvent  # noqa: E402
from madoguchi.municipalities.tenancy import tenant  # noqa: E402

from .conftest import version_of  # noqa: E402
from .helpers import PNG, RISAI, key  # noqa: E402


def test_a_submission_queues_sanitisation_and_the_worker_keeps_the_original(
        catalog_a, taro, django_capture_on_commit_callbacks):
    photo = png_with_text()
    with django_capture_on_commit_callbacks(execute=True):
        application, _ = submit(version_of(catalog_a, "risai-shoumei"), taro, RISAI, idempotency_key=key(),
                                uploads=[Upload("photo.png", photo), Upload("broken.png", PNG)])
    queued = DBTaskResult.objects.filter(task_path=sanitise_application_attachments.module_path)
    assert [r.args_kwargs["args"] for r in queued] == [[catalog_a.pk, application.pk]]

    assert sanitise_application_attachments.call(catalog_a.pk, application.pk) == {"clean": 1, "rejected": 1}

    with tenant(catalog_a):
        good, broken = Attachment.objects.filter(application=application).order_by("name").reverse()
        assert (good.name, good.sanitisation, broken.sanitisation) == ("photo.png", "clean", "rejected")
        assert good.sanitisation_note == "removed: Comment"
        assert broken.sanitisation_note.startswith("not a readable PNG") and not broken.sanitised_file
        with default_storage.open(good.file.name) as f:
            assert f.read() == photo  # the signed original, untouched
        with default_storage.open(good.sanitised_file.name) as f:
            assert "窓口市".encode() not in f.read()
        events = dict(AuditEvent.objects.filter(action__startswith="applications.attachment_")
                      .values_list("object_id", "action"))
        assert events == {str(good.pk): "applications.attachment_clean", str(broken.pk): "applications.attachment_rejected"}
    # A second run (a retried task) changes nothing.
    assert sanitise_pending(catalog_a) == {"clean": 0, "rejected": 0}
    with tenant(catalog_a):
        assert AuditEvent.objects.filter(action__startswith="applications.attachment_").count() == 2


def test_a_draft_queues_nothing(catalog_a, taro, django_capture_on_commit_callbacks):
    from madoguchi.applications import services

    with django_capture_on_commit_callbacks(execute=True):
        services.save_draft(version_of(catalog_a, "risai-shoumei"), taro, RISAI, [Upload("photo.png", png_with_text())])
    assert not DBTaskResult.objects.exists()
