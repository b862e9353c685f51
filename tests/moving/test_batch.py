"""The exchange file: `moving export --new` writes every package not exported yet as one file,
once; `moving import FILE` receives the good packages of it in one transaction per
destination and lists each refused one with its position and reason (exit 2) — nothing
received twice, nothing half."""
import json

import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.cli import main
from madoguchi.documents import services as documents
from madoguchi.moving import package
from madoguchi.moving.models import IncomingMove, OutgoingMove
from madoguchi.municipalities.tenancy import tenant
from tests.applications.conftest import app_settings, catalog_a, taro  # noqa: F401  (fixtures)
from tests.ceremonies.conftest import dev_pki, pki  # noqa: F401  (fixtures)
from tests.moving.test_origin import accepted, produced, staff_a  # noqa: F401  (helpers and a fixture)
from tests.moving.test_package import PAYLOAD, documents_settings  # noqa: F401  (autouse fixture)


def run(capsys, *args):
    code = main(["moving", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def packages(muni_a, count, **changes):
    identity = documents.ensure_demo(muni_a)
    return [package.sign(identity, {**PAYLOAD, "application": f"139998-{i:06d}", **changes}) for i in range(count)]


@pytest.fixture
def destination(muni_b):
    documents.ensure_demo(muni_b)
    return muni_b


def test_a_batch_is_received_whole_and_each_refused_package_is_named(capsys, muni_a, destination, tmp_path):
    good = packages(muni_a, 5)
    tampered = json.loads(good[3])
    tampered["signature"] = tampered["signature"][:-8] + "AAAAAAA="
    contents = [*good[:3], json.dumps(tampered).encode(), good[4], good[0],  # a replay inside the file
                packages(muni_a, 1, destination="131016")[0],  # not on this deployment
                packages(muni_a, 1, application="x" * 41)[0]]
    path = tmp_path / "exchange.json"
    path.write_bytes(package.batch(contents))

    code, out, err = run(capsys, "import", str(path))
    assert code == 2 and "received 4 of 8 packages" in out
    lines = err.strip().splitlines()
    assert lines[0].endswith("package 4 (139998-000003): the package's signature does not verify")
    assert "package 6 (139998-000000): this package has already been received" in lines[1]
    assert "package 7 (139998-000000): the destination 131016 is not a municipality of this deployment" in lines[2]
    assert "package 8" in lines[3] and "longer than 40 characters" in lines[3]
    assert "4 of 8 packages refused" in lines[4] and len(lines) == 5
    with tenant(destination):
        received = sorted(IncomingMove.objects.values_list("application", flat=True))
    assert received == ["139998-000000", "139998-000001", "139998-000002", "139998-000004"]
    events = AuditEvent.unscoped.filter(action="moving.received", municipality=destination)
    assert sorted(e.data["application"] for e in events) == received

    code, out, err = run(capsys, "import", str(path))  # the same file again: nothing twice
    assert code == 2 and "received 0 of 8 packages" in out and err.count("already been received") == 5
    assert IncomingMove.unscoped.count() == 4


@pytest.mark.parametrize("content, message", [
    (b'{"format": "madoguchi-moving-batch/1", "packages": []}', "the batch carries no package"),
    (b'{"format": "madoguchi-moving-batch/1", "packages": {"a": 1}}', "the batch carries no package"),
    (b'{"format": "madoguchi-moving-batch/1", "packages": [1, "x"', "not a JSON package"),
])
def test_a_malformed_batch_is_one_line(capsys, db, tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    code, _, err = run(capsys, "import", str(path))
    assert code == 2 and message in err and err.strip().count("\n") == 0


def test_hostile_members_of_a_batch_are_refused_one_by_one(capsys, muni_a, destination, tmp_path):
    good = packages(muni_a, 1)[0]
    path = tmp_path / "exchange.json"
    members = [1, "x", {"format": "madoguchi-moving/1"}, {"format": "madoguchi-moving/1", "payload": "!!"},
               json.loads(good)]
    path.write_text(json.dumps({"format": "madoguchi-moving-batch/1", "packages": members}))
    code, out, err = run(capsys, "import", str(path))
    assert code == 2 and "received 1 of 5 packages" in out
    assert "package 1: the file is not a madoguchi-moving/1 package" in err
    assert "package 3: payload is missing" in err and "package 4: payload is not base64" in err


def test_export_new_writes_each_package_once(catalog_a, pki, taro, staff_a, tmp_path, capsys):
    accepted(catalog_a, taro, pki.taro, staff_a, new_municipality="千代田区")
    from madoguchi.moving import services

    with tenant(catalog_a):
        move = services.set_destination(staff_a, produced(catalog_a), "131016")
        move.pk, move.application = None, "another-move"  # a second move waiting (one 転出届 per person is open)
        move.save()
    first = tmp_path / "night1.json"
    code, out, _ = run(capsys, "export", "--municipality", catalog_a.code, "--new", str(first))
    assert code == 0 and f"wrote 2 転出 package(s) and 0 転入通知 of {catalog_a.code}" in out
    envelopes, is_batch = package.envelopes(first.read_bytes())
    assert is_batch and len(envelopes) == 2
    roots = documents.trust_roots(catalog_a)
    assert {package.verify_envelope(e, roots)[0]["destination"] for e in envelopes} == {"131016"}
    assert AuditEvent.unscoped.filter(action="moving.exported", municipality=catalog_a).count() == 2

    code, out, _ = run(capsys, "export", "--municipality", catalog_a.code, "--new", str(tmp_path / "night2.json"))
    assert code == 0 and "no new 転出 package or 転入通知" in out and not (tmp_path / "night2.json").exists()
    code, _, err = run(capsys, "export", "--municipality", catalog_a.code, "--new", str(first))
    assert code == 2 and "exists" in err


def test_an_export_that_cannot_be_written_marks_nothing(catalog_a, pki, taro, staff_a, tmp_path, capsys):
    accepted(catalog_a, taro, pki.taro, staff_a, new_municipality="千代田区")
    from madoguchi.moving import services

    with tenant(catalog_a):
        move = produced(catalog_a)
        services.set_destination(staff_a, move, "131016")
    code, _, err = run(capsys, "export", "--municipality", catalog_a.code, "--new", str(tmp_path / "no" / "f.json"))
    assert code == 2 and "cannot write" in err
    with tenant(catalog_a):
        assert OutgoingMove.objects.get().exported_at is None
    assert not AuditEvent.unscoped.filter(action="moving.exported").exists()


@pytest.mark.parametrize("args", [["--new", "RECEIPT", "f.json"], ["f.json"]])
def test_export_needs_a_receipt_or_new(capsys, db, args):
    with pytest.raises(SystemExit) as exited:
        main(["moving", "export", "--municipality", "139998", *args])
    assert exited.value.code == 2 and "RECEIPT or --new" in capsys.readouterr().err
