import subprocess
import unicodedata
import tempfile

import pytest

from madoguchi.certificates.services import ensure_types
from tests.applications.conftest import (  # noqa: F401  (fixtures)
    HANAKO, TARO, app_settings, dev_pki, hanako, pki, taro)


@pytest.fixture(autouse=True)
def certificate_settings(settings, tmp_path, muni_a):
    settings.DATA_DIR = tmp_path / "data"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DOCUMENTS_DEVELOPMENT_CA_ALLOWED = True
    settings.SITE_URL = "https://madoguchi.example"
    from madoguchi.documents import services

    services.forget_signers()
    ensure_types(muni_a)
    return settings


def flat(text: str) -> str:
    """NFKC without white space: pdftotext lays out letter-spaced titles and 全角 spaces as spaces,
    and the fonts' ToUnicode maps some ideographs to Kangxi radicals (一 → ⼀)."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def pdf_text(data: bytes) -> str:
    """The PDF's text as a person reads it, without spaces (compare with `flat`)."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(data)
        f.flush()
        text = subprocess.run(["pdftotext", "-layout", f.name, "-"], capture_output=True, text=True,
                              check=True).stdout.replace(" ", "").replace("\u3000", "")
    return flat(text)
