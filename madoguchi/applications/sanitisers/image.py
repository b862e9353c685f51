"""JPEG and PNG: decoded (with a pixel limit against decompression bombs), turned upright by
their EXIF orientation, copied pixel by pixel into a new image (no `info`, so nothing of the
original's metadata can reach the writer) and encoded again — the EXIF block of a phone
photo carries the place it was taken; comments, ICC profiles and text chunks can carry
anything."""

import io

from PIL import Image, ImageOps, UnidentifiedImageError

from .base import SANITISERS, Rejected, Sanitised, Sanitiser

# 40 megapixels is more than any phone camera makes; beyond that, a decompression bomb.
MAX_PIXELS = 40_000_000


class ImageSanitiser(Sanitiser):
    content_types = frozenset({"image/jpeg", "image/png"})

    def sanitise(self, content: bytes, content_type: str) -> Sanitised:
        return _image(content, content_type)


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


SANITISERS.register("image", "JPEG and PNG rebuilt from their pixels only (no metadata), upright")(ImageSanitiser())
