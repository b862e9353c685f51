"""Without the Japanese fonts a seal or a PDF would be drawn in tofu (□) silently: both
refuse instead, naming the package to install — the demo command too, with one line and
exit 2 before it loads anything. The lookup is pointed at an empty font directory."""

import io

import pytest
from django.test import override_settings
from PIL import Image

from madoguchi.documents import fonts
from madoguchi.documents.seal import demo_seal
from madoguchi.documents.services import render_pdf
from tests.test_cli import madoguchi


def test_the_seal_and_the_pdf_refuse_without_the_fonts(tmp_path):
    with override_settings(DOCUMENT_FONT_DIRS=[str(tmp_path)]):
        with pytest.raises(fonts.FontsMissing) as seal:
            demo_seal("窓口市長")
        assert "install fonts-noto-cjk" in str(seal.value) and str(tmp_path) in str(seal.value)
        with pytest.raises(fonts.FontsMissing) as pdf:
            render_pdf(None, "receipt")  # refused before anything is rendered
        assert "install fonts-noto-cjk and fonts-ipamj-mincho" in str(pdf.value)


def test_only_the_missing_package_is_named(tmp_path):
    noto = fonts.path(fonts.NOTO_SERIF)
    assert noto is not None, "fonts-noto-cjk is installed here (scripts/apt-packages.txt)"
    (tmp_path / noto.name).symlink_to(noto)
    with override_settings(DOCUMENT_FONT_DIRS=[str(tmp_path)]):
        fonts.require(fonts.SEAL_FONTS)
        with pytest.raises(fonts.FontsMissing) as pdf:
            fonts.require(fonts.PDF_FONTS)
        assert "install fonts-ipamj-mincho (IPAmj明朝 not found" in str(pdf.value)


def cells(png: bytes) -> list[bytes]:
    """The six characters of 窓口市長之印 as drawn (3 columns of 2, right to left)."""
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    border, inner = 360 // 18, 360 - 3 * (360 // 18)
    w, h = inner / 3, inner / 2
    x0 = y0 = 1.5 * border
    return [image.crop((int(x0 + c * w), int(y0 + r * h), int(x0 + (c + 1) * w), int(y0 + (r + 1) * h))).tobytes()
            for c in range(3) for r in range(2)]


def test_with_the_fonts_each_character_of_the_seal_has_its_own_shape():
    drawn = cells(demo_seal("窓口市長"))
    assert len(set(drawn)) == 6  # a face without these characters draws six identical boxes (tofu)


def test_madoguchi_demo_without_fonts_is_one_line_and_exit_2(tmp_path):
    result = madoguchi("demo", data_dir=tmp_path / "data",
                       env={"MADOGUCHI_DOCUMENT_FONT_DIRS": str(tmp_path / "no-fonts")})
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("madoguchi: the Japanese fonts are missing: install fonts-noto-cjk")
    assert not (tmp_path / "data" / "madoguchi.sqlite3").exists() or "demo loaded" not in result.stdout
