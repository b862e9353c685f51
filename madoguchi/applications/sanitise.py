"""Attachment sanitisation (無害化) before an attachment crosses into the back office.

Content disarm and reconstruction, not a virus scan: every attachment is rebuilt from
what a reviewer needs and nothing else.

- JPEG and PNG are decoded (with a pixel limit against decompression bombs), turned
  upright by their EXIF orientation, copied pixel by pixel into a new image (no `info`, so
  nothing of the original's metadata can reach the writer) and encoded again — the EXIF
  block of a phone photo carries the place it was taken; comments, ICC profiles and text
  chunks can carry anything.
- PDF is opened with qpdf (pikepdf) and written again without active or hidden content:
  JavaScript, open and additional actions, launch/import/submit actions, embedded files,
  XFA forms, rich media; an encrypted or unreadable PDF is rejected.

The resident's original stays as it was: its SHA-256 is in the signed document, so the
signature keeps verifying. The sanitised copy is what staff open. This module knows
nothing of Django; services call it.
"""

import io
from dataclasses import dataclass, field

import pikepdf
from PIL import Image, ImageOps, UnidentifiedImageError

# 40 megapixels is more than any phone camera makes; beyond that, a decompression bomb.
MAX_PIXELS = 40_000_000

# Actions that run something, reach out or send data (PDF 32000-1 §12.6.4).
DANGEROUS_ACTIONS = {"/JavaScript", "/Launch", "/ImportData", "/SubmitForm", "/ResetForm", "/Rendition",
                     "/Sound", "/Movie", "/RichMediaExecute", "/GoToE", "/Hide", "/SetOCGState", "/Trans",
                     "/GoTo3DView"}
DANGEROUS_ANNOTATIONS = {"/RichMedia", "/Screen", "/Movie", "/Sound", "/FileAttachment", "/3D"}


class Rejected(Exception):
    """The attachment cannot be made safe; `reason` says why (shown to staff)."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass
class Sanitised:
    content: bytes
    content_type: str
    removed: list = field(default_factory=list)  # what was taken out, for the audit event


def sanitise(content: bytes, content_type: str) -> Sanitised:
    if content_type in ("image/jpeg", "image/png"):
        return _image(content, content_type)
    if content_type == "application/pdf":
        return _pdf(content)
    raise Rejected(f"unsupported type {content_type}")


def _image(content: bytes, content_type: str) -> Sanitised:
    fmt = "JPEG" if content_type == "image/jpeg" else "PNG"
    try:
        with Image.open(io.BytesIO(content), formats=[fmt]) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise Rejected(f"image of {width}×{height} pixels is over the limit")
            removed = sorted(k for k in image.info if k not in ("dpi", "jfif", "jfif_version", "jfif_unit",
                                                                 "jfif_density", "progressive", "progression"))
            if image.getexif():
                removed.append("exif")
            image.load()
            upright = ImageOps.exif_transpose(image)
            clean = _pixels_only(upright, fmt)
            out = io.BytesIO()
            # A fresh image with an empty `info`: Pillow's writers fall back to `info` for
            # a comment (JPEG COM), an ICC profile (iCCP / APP2) and more, so the decoded
            # image itself is never saved.
            if fmt == "JPEG":
                clean.save(out, "JPEG", quality=90)
            else:
                clean.save(out, "PNG", optimize=False)
    except Rejected:
        raise
    except Image.DecompressionBombError:
        raise Rejected("image is over the limit of pixels") from None
    except ( UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise Rejected(f"not a readable {fmt} image ({exc.__class__.__name__})") from None
    return Sanitised(out.getvalue(), content_type, sorted(set(removed)))


def _pixels_only(image: Image.Image, fmt: str) -> Image.Image:
    """A new image holding only the decoded pixels, in a mode the writer takes as it is:
    JPEG L or RGB; PNG L, LA, RGB or RGBA (a palette becomes RGB or RGBA, 16-bit grey stays
    I;16). The ICC profile is dropped, not applied: converting would hand an attacker's
    profile to LittleCMS, and a wide-gamut photo shown as sRGB is still a fine photo of the
    damage (docs/applications.md)."""
    if fmt == "JPEG":
        mode = "L" if image.mode in ("1", "L") else "RGB"
    elif image.mode in ("1", "L", "LA", "RGB", "RGBA", "I;16"):
        mode = image.mode if image.mode != "1" else "L"
    elif image.mode == "P":
        mode = "RGBA" if "transparency" in image.info else "RGB"
    elif image.mode in ("PA", "La"):
        mode = "RGBA"
    else:
        mode = "RGBA" if "A" in image.getbands() else "RGB"
    pixels = image if image.mode == mode else image.convert(mode)
    return Image.frombytes(mode, pixels.size, pixels.tobytes())


def _pdf(content: bytes) -> Sanitised:
    removed: list[str] = []
    try:
        pdf = pikepdf.open(io.BytesIO(content))
    except pikepdf.PasswordError:
        raise Rejected("encrypted PDF") from None
    except (pikepdf.PdfError, ValueError, OSError) as exc:
        raise Rejected(f"not a readable PDF ({exc.__class__.__name__})") from None
    with pdf:
        if pdf.is_encrypted:
            raise Rejected("encrypted PDF")
        root = pdf.Root
        for key in ("/OpenAction", "/AA", "/URI"):
            if key in root:
                del root[key]
                removed.append(f"catalog {key}")
        names = root.get("/Names")
        if isinstance(names, pikepdf.Dictionary):
            for key in ("/JavaScript", "/EmbeddedFiles"):
                if key in names:
                    del names[key]
                    removed.append(f"names {key}")
        form = root.get("/AcroForm")
        if isinstance(form, pikepdf.Dictionary):
            if "/XFA" in form:
                del form["/XFA"]
                removed.append("XFA form")
            for f in _walk_fields(form.get("/Fields")):
                if "/AA" in f:
                    del f["/AA"]
                    removed.append("form field actions")
        for number, page in enumerate(pdf.pages, start=1):
            obj = page.obj
            if "/AA" in obj:
                del obj["/AA"]
                removed.append(f"page {number} actions")
            annots = obj.get("/Annots")
            if isinstance(annots, pikepdf.Array):
                kept = pikepdf.Array()
                for annot in annots:
                    if not isinstance(annot, pikepdf.Dictionary):
                        continue
                    if annot.get("/Subtype") in DANGEROUS_ANNOTATIONS:
                        removed.append(f"page {number} {annot.get('/Subtype')} annotation")
                        continue
                    if "/AA" in annot:
                        del annot["/AA"]
                        removed.append(f"page {number} annotation actions")
                    action = annot.get("/A")
                    if isinstance(action, pikepdf.Dictionary) and _dangerous(action):
                        del annot["/A"]
                        removed.append(f"page {number} {action.get('/S')} action")
                    kept.append(annot)
                obj["/Annots"] = kept
        out = io.BytesIO()
        # Rewritten by qpdf: only objects reachable from the cleaned catalog survive.
        pdf.remove_unreferenced_resources()
        pdf.save(out, compress_streams=True, object_stream_mode=pikepdf.ObjectStreamMode.preserve, linearize=False)
    return Sanitised(out.getvalue(), "application/pdf", sorted(set(removed)))


def _dangerous(action, depth: int = 0) -> bool:
    if depth > 16:  # a chain of /Next actions that long is hostile in itself
        return True
    if action.get("/S") in DANGEROUS_ACTIONS:
        return True
    following = action.get("/Next")
    if isinstance(following, pikepdf.Dictionary):
        return _dangerous(following, depth + 1)
    if isinstance(following, pikepdf.Array):
        return any(isinstance(a, pikepdf.Dictionary) and _dangerous(a, depth + 1) for a in following)
    return False


def _walk_fields(fields, depth: int = 0):
    if not isinstance(fields, pikepdf.Array) or depth > 32:
        return
    for f in fields:
        if isinstance(f, pikepdf.Dictionary):
            yield f
            yield from _walk_fields(f.get("/Kids"), depth + 1)
