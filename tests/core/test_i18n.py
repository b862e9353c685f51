import re
import shutil
import subprocess
from pathlib import Path

import pytest

import madoguchi

CATALOG = Path(madoguchi.__file__).parent / "locale" / "en" / "LC_MESSAGES"


def entries():
    text = (CATALOG / "django.po").read_text(encoding="utf-8")
    # The first block is the catalogue header.
    blocks = [b for b in text.split("\n\n")[1:] if "msgid" in b]
    return blocks


def test_every_message_has_an_english_translation():
    untranslated = []
    for block in entries():
        if "#, fuzzy" in block:
            untranslated.append(block)
        msgstr = block.split("msgstr", 1)[1]
        if re.fullmatch(r'\s*""\s*', msgstr):
            untranslated.append(block)
    assert not untranslated, "\n\n".join(untranslated)


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="gettext is installed by scripts/install-system-packages")
def test_compiled_catalogue_matches_the_source(tmp_path):
    out = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check-format", "-o", str(out), str(CATALOG / "django.po")], check=True)
    assert out.read_bytes() == (CATALOG / "django.mo").read_bytes(), "run `make messages` and commit django.mo"
