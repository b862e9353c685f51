"""`madoguchi moving import FILE`: the destination receives a verified package as a 転入予定;
a replay, a tampered file, an unknown destination are exit 2 with one line."""
import json

import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.cli import main
from madoguchi.documents import services as documents
from madoguchi.moving import package
from madoguchi.moving.models import IncomingMove
from tests.moving.test_package import PAYLOAD, documents_settings  # noqa: F401


def run(capsys, path):
    code = main(["moving", "import", str(path)])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def package_file(muni_a, muni_b, tmp_path):
    documents.ensure_demo(muni_b)
    path = tmp_path / "move.json"
    path.write_bytes(package.sign(documents.ensure_demo(muni_a), PAYLOAD))
    return path


def test_import_then_replay(capsys, muni_b, package_file):
    code, out, _ = run(capsys, package_file)
    assert code == 0 and "139998-000001" in out
    move = IncomingMove.unscoped.get()
    assert move.municipality == muni_b and move.status == "expected" and move.origin_code == "139998"
    assert AuditEvent.unscoped.filter(action="moving.received", municipality=muni_b).count() == 1
    code, _, err = run(capsys, package_file)
    assert code == 2 and err.strip().count("\n") == 0 and "already been received" in err
    assert IncomingMove.unscoped.count() == 1


@pytest.mark.parametrize("content, message", [
    (b"garbage", "not a JSON package"),
    (None, "signature does not verify"),
])
def test_bad_files(capsys, package_file, tmp_path, content, message):
    if content is None:
        envelope = json.loads(package_file.read_bytes())
        envelope["signature"] = envelope["signature"][:-8] + "AAAAAAA="
        content = json.dumps(envelope).encode()
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    code, _, err = run(capsys, bad)
    assert code == 2 and message in err and err.strip().count("\n") == 0
    assert IncomingMove.unscoped.count() == 0


def test_unknown_destination(capsys, muni_a, tmp_path):
    path = tmp_path / "elsewhere.json"
    path.write_bytes(package.sign(documents.ensure_demo(muni_a), {**PAYLOAD, "destination": "131016"}))
    code, _, err = run(capsys, path)
    assert code == 2 and "131016 is not a municipality of this deployment" in err


def test_missing_file(capsys, db, tmp_path):
    code, _, err = run(capsys, tmp_path / "nope.json")
    assert code == 2 and "cannot read" in err
