"""PDF: opened with qpdf (pikepdf) and written again without active or hidden content:
JavaScript, open and additional actions, launch/import/submit actions, embedded files, XFA
forms, rich media; an encrypted or unreadable PDF is rejected."""

import io

import pikepdf

from .base import SANITISERS, Rejected, Sanitised, Sanitiser

# Actions that run something, reach out or send data (PDF 32000-1 §12.6.4).
DANGEROUS_ACTIONS = {"/JavaScript", "/Launch", "/ImportData", "/SubmitForm", "/ResetForm", "/Rendition",
                     "/Sound", "/Movie", "/RichMediaExecute", "/GoToE", "/Hide", "/SetOCGState", "/Trans",
                     "/GoTo3DView"}
DANGEROUS_ANNOTATIONS = {"/RichMedia", "/Screen", "/Movie", "/Sound", "/FileAttachment", "/3D"}


class PdfSanitiser(Sanitiser):
    content_types = frozenset({"application/pdf"})

    def sanitise(self, content: bytes, content_type: str) -> Sanitised:
        return _pdf(content)


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


SANITISERS.register("pdf", "PDF rewritten by qpdf without scripts, actions, embedded files or XFA")(PdfSanitiser())
