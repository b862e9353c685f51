"""The Japanese fonts documents are drawn with, found as files under the font directories
(`DOCUMENT_FONT_DIRS`, where fontconfig finds them too). Drawing a seal or a PDF without
them would print tofu (□) silently, so both refuse with a message naming the missing Debian
package instead."""

from functools import lru_cache
from pathlib import Path

from django.conf import settings


class FontsMissing(RuntimeError):
    """A Japanese font is missing; the message names the package that installs it."""


# Each font: the files that provide it (any one), and the Debian package that installs them.
NOTO_SERIF = ("Noto Serif CJK JP", ("NotoSerifCJK-Bold.ttc", "NotoSerifCJK-Regular.ttc"), "fonts-noto-cjk")
IPAMJ = ("IPAmj明朝", ("ipamjm.ttf",), "fonts-ipamj-mincho")
SEAL_FONTS = (NOTO_SERIF,)  # the demo seal (documents/seal.py)
PDF_FONTS = (NOTO_SERIF, IPAMJ)  # documents/pdf/base.html: Noto, and IPAmj明朝 for names' rare characters


@lru_cache(maxsize=8)
def _files(dirs: tuple[str, ...]) -> dict[str, Path]:
    found = {}
    for directory in dirs:
        root = Path(directory)
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.suffix.lower() in (".ttc", ".ttf", ".otf", ".otc") and path.is_file():
                    found.setdefault(path.name, path)
    return found


def font_dirs() -> tuple[str, ...]:
    return tuple(settings.DOCUMENT_FONT_DIRS)


def path(font) -> Path | None:
    """The first file of `font` found (in the order its files are listed), or None."""
    files = _files(font_dirs())
    return next((files[name] for name in font[1] if name in files), None)


def require(fonts) -> None:
    """Raises FontsMissing, naming the packages to install, unless every font is there."""
    missing = [font for font in fonts if path(font) is None]
    if missing:
        raise FontsMissing(
            "the Japanese fonts are missing: install " + " and ".join(f[2] for f in missing)
            + " (" + ", ".join(f[0] for f in missing) + " not found under " + ":".join(font_dirs()) + ")")
