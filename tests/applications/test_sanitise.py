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


# The output bytes themselves, not the report: the segments of a JPEG and the chunks of a
# PNG as a parser reads them.

def jpeg_segments(content: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of every segment before the entropy-coded data (SOS ends the walk)."""
    assert content[:2] == b"\xff\xd8", "not a JPEG"
    segments, i = [], 2
    while i < len(content):
        assert content[i] == 0xFF, f"no marker at {i}"
        while content[i] == 0xFF:
            i += 1
        marker = content[i]
        i += 1
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            segments.append((marker, b""))
            continue
        length = struct.unpack(">H", content[i:i + 2])[0]
        segments.append((marker, content[i + 2:i + length]))
        i += length
        if marker == 0xDA:  # start of scan: the rest is image data
            break
    return segments


def png_chunks(content: bytes) -> list[tuple[bytes, bytes]]:
    assert content[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    chunks, i = [], 8
    while i < len(content):
        length, kind = struct.unpack(">I4s", content[i:i + 8])
        chunks.append((kind, content[i + 8:i + 8 + length]))
        i += 12 + length
    return chunks


PAYLOAD = b"<script>alert(document.cookie)</script>"
# What Pillow's JPEG encoder writes by itself: the JFIF APP0, quantisation and Huffman
# tables, the frame header, the scan. Anything else (COM, APP1 EXIF/XMP, APP2 ICC, APP13
# Photoshop, …) must be gone.
JPEG_ALLOWED = {0xD8, 0xE0, 0xDB, 0xC4, 0xC0, 0xC2, 0xDD, 0xDA}
PNG_ALLOWED = {b"IHDR", b"PLTE", b"IDAT", b"IEND"}


def hostile_jpeg() -> bytes:
    """A photo with a COM script, EXIF with GPS, an ICC profile carrying the script, and a
    private APP15 segment spliced in by hand."""
    image = Image.new("RGB", (32, 16), (10, 200, 10))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8825)[2] = (35.0, 41.0, 22.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=PAYLOAD, icc_profile=b"ICCPROFILE" + PAYLOAD)
    content = out.getvalue()
    app15 = b"\xff\xef" + struct.pack(">H", 2 + len(PAYLOAD) + 4) + b"PRIV" + PAYLOAD
    return content[:2] + app15 + content[2:]


def hostile_png() -> bytes:
    """A PNG with a crafted iCCP chunk, tEXt, zTXt, iTXt, eXIf and a private ancillary chunk."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", PAYLOAD.decode())
    info.add_text("Big", "z" * 2000 + PAYLOAD.decode(), zip=True)
    info.add_itxt("Note", "住所 " + PAYLOAD.decode(), lang="ja")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    out = io.BytesIO()
    Image.new("RGBA", (12, 12), (0, 0, 255, 128)).save(out, "PNG", pnginfo=info, exif=exif,
                                                       icc_profile=b"ICCPROFILE" + PAYLOAD * 4)
    content = out.getvalue()
    # A private chunk (lower-case first letter: ancillary) right after IHDR.
    ihdr_end = 8 + 12 + 13
    return content[:ihdr_end] + chunk(b"prVt", PAYLOAD) + content[ihdr_end:]


def test_a_jpeg_keeps_no_segment_but_what_the_encoder_writes():
    original = hostile_jpeg()
    markers = {m for m, _ in jpeg_segments(original)}
    assert {0xFE, 0xE1, 0xE2, 0xEF} <= markers  # COM, EXIF, ICC, private: all planted
    result = sanitise(original, "image/jpeg")
    segments = jpeg_segments(result.content)
    assert {m for m, _ in segments} <= JPEG_ALLOWED, [hex(m) for m, _ in segments]
    assert [p[:5] for m, p in segments if m == 0xE0] == [b"JFIF\0"]
    for needle in (PAYLOAD, b"<script", b"PhoneMaker", b"ICCPROFILE", b"PRIV", b"Exif\0"):
        assert needle not in result.content, needle
    with Image.open(io.BytesIO(result.content)) as after:
        assert after.size == (32, 16) and "icc_profile" not in after.info and "comment" not in after.info
        r, g, b = after.convert("RGB").getpixel((5, 5))
        assert g > 150 and r < 60 and b < 60


def test_a_png_keeps_no_chunk_but_the_image():
    original = hostile_png()
    kinds = {k for k, _ in png_chunks(original)}
    assert {b"iCCP", b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"prVt"} <= kinds
    result = sanitise(original, "image/png")
    chunks = png_chunks(result.content)
    assert {k for k, _ in chunks} <= PNG_ALLOWED, [k for k, _ in chunks]
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    for needle in (PAYLOAD, b"<script", b"PhoneMaker", b"ICCPROFILE", "住所".encode()):
        assert needle not in result.content, needle
    # Nor hidden compressed in the image data: decompress it and look there too.
    pixels = zlib.decompress(b"".join(d for k, d in chunks if k == b"IDAT"))
    assert PAYLOAD not in pixels
    with Image.open(io.BytesIO(result.content)) as after:
        assert after.mode == "RGBA" and after.getpixel((3, 3)) == (0, 0, 255, 128)
        assert not after.info.get("icc_profile")


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"])
def test_every_png_mode_is_rebuilt_from_its_pixels(mode):
    image = Image.new(mode, (9, 7))
    if mode == "P":
        image.putpalette([0, 0, 0, 250, 20, 20] + [0] * 762)
        image.info["transparency"] = 0
    out = io.BytesIO()
    image.save(out, "PNG", icc_profile=b"ICCPROFILE" + PAYLOAD)
    result = sanitise(out.getvalue(), "image/png")
    assert {k for k, _ in png_chunks(result.content)} <= PNG_ALLOWED
    with Image.open(io.BytesIO(result.content)) as after:
        assert after.size == (9, 7)


def test_a_grey_or_cmyk_jpeg_is_rebuilt_too():
    for mode in ("L", "CMYK"):
        out = io.BytesIO()
        Image.new(mode, (8, 8)).save(out, "JPEG", comment=PAYLOAD)
        result = sanitise(out.getvalue(), "image/jpeg")
        assert {m for m, _ in jpeg_segments(result.content)} <= JPEG_ALLOWED and PAYLOAD not in result.content


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
