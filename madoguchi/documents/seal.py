"""A demonstration seal (公印) image, drawn here (never copied from a real one): a red
square 角印 with the issuer's title and 之印 in vertical columns, right to left."""

import io

from PIL import Image, ImageDraw, ImageFont

from . import fonts

RED = (200, 30, 30, 255)
MAX_SEAL_BYTES = 512 * 1024
MAX_SEAL_PIXELS = 2000


class SealError(ValueError):
    pass


def _font(size: int):
    """The seal's font; fonts.FontsMissing (naming the package) rather than a fallback face
    that draws tofu."""
    fonts.require(fonts.SEAL_FONTS)
    return ImageFont.truetype(str(fonts.path(fonts.NOTO_SERIF)), size, index=0)  # index 0: the JP face


def demo_seal(title: str, size: int = 360) -> bytes:
    """PNG bytes of a square seal reading `title` + 之印 (e.g. 窓口市長之印)."""
    text = f"{title}之印"
    columns = 3 if len(text) > 4 else 2
    rows = -(-len(text) // columns)
    image = Image.new("RGBA", (size, size), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    border = size // 18
    draw.rectangle([border // 2, border // 2, size - border // 2 - 1, size - border // 2 - 1], outline=RED, width=border)
    inner = size - 3 * border
    cell_w, cell_h = inner / columns, inner / rows
    font = _font(int(min(cell_w, cell_h) * 0.9))
    for i, char in enumerate(text):
        column, row = divmod(i, rows)
        x = size - 1.5 * border - (column + 0.5) * cell_w  # right to left
        y = 1.5 * border + (row + 0.5) * cell_h
        draw.text((x, y), char, fill=RED, font=font, anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def demo_personal_seal(surname: str, size: int = 240) -> bytes:
    """PNG bytes of a round personal seal (実印) with the surname in one column, for the
    demo's seal registrations — drawn, never a copy of a real one."""
    text = surname.strip()[:4] or "印"
    image = Image.new("RGBA", (size, size), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    border = size // 16
    draw.ellipse([border // 2, border // 2, size - border // 2 - 1, size - border // 2 - 1], outline=RED, width=border)
    cell = (size - 4 * border) / max(len(text), 2)
    font = _font(int(cell * 0.95))
    top = (size - cell * len(text)) / 2
    for i, char in enumerate(text):
        draw.text((size / 2, top + (i + 0.5) * cell), char, fill=RED, font=font, anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def check_seal(data: bytes) -> bytes:
    """An uploaded seal image: a PNG of sensible size, re-encoded (nothing but pixels kept)."""
    if len(data) > MAX_SEAL_BYTES:
        raise SealError("too_large")
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise SealError("not_png")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "PNG" or max(image.size) > MAX_SEAL_PIXELS or min(image.size) < 16:
                raise SealError("size")
            image.load()
            clean = image.convert("RGBA")
    except (OSError, Image.DecompressionBombError):
        raise SealError("unreadable") from None
    out = io.BytesIO()
    clean.save(out, format="PNG", optimize=True)
    return out.getvalue()
