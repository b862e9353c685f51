"""One spelling of 手続き on every page and in every message (issue 17): the 公用文 spelling
手続 appears only inside a law's title quoted as enacted."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent / "madoguchi"
SHORT = re.compile(r"(?<!行政)手続(?!き)")


def test_no_page_template_or_message_says_手続_without_き():
    found = []
    for path in ROOT.rglob("*"):
        if path.suffix in (".py", ".html", ".json", ".txt") and "migrations" not in path.parts and path.is_file():
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if SHORT.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:80]}")
    assert found == []
