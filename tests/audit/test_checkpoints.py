"""Signed checkpoints outside the database (issue 13, finding 7): a chain cut short with its
head rewound — what someone who can drop the append-only triggers can do — is found by
`audit verify`, and so are edited, cut-short and rewound checkpoint files."""

import json
import os
import stat

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from joserfc.jwk import OKPKey

from madoguchi.audit.checkpoints import KEY_FILE, load_key, sign_line
from madoguchi.audit.models import AuditChainHead, AuditCheckpointMark
from madoguchi.audit.services import record, verify_chain
from madoguchi.municipalities.tenancy import tenant

from .test_chain import _tamper


@pytest.fixture(autouse=True)
def sink(settings, tmp_path):
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    return tmp_path / "checkpoints"


def sink_file(sink):
    [path] = sorted(sink.iterdir())
    return path


def steps(municipality, n):
    with tenant(municipality):
        return [record("test.step", data={"i": i}) for i in range(n)]


def run(command, *args, capsys):
    """(exit code, stdout) of a management command as `madoguchi` runs it."""
    try:
        call_command(command, *args)
        code = 0
    except CommandError as exc:
        code = exc.returncode
    return code, capsys.readouterr().out


def cut_tail(municipality, keep: int):
    """The insider: the events after `keep` deleted and the head rewound to match."""
    _tamper("DELETE FROM audit_auditevent WHERE municipality_id = %s AND seq > %s", [municipality.pk, keep])
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditchainhead SET last_seq = %s, last_hash = "
                       "(SELECT hash FROM audit_auditevent WHERE municipality_id = %s AND seq = %s) WHERE chain = %s",
                       [keep, municipality.pk, keep, str(municipality.pk)])


@pytest.mark.django_db
def test_a_cut_tail_with_a_rewound_head_is_found(muni_a, muni_b, capsys):
    steps(muni_a, 6)
    steps(muni_b, 6)
    code, out = run("audit_checkpoint", capsys=capsys)
    assert code == 0 and "WROTE  139998: seq 6" in out and "WROTE  279994: seq 6" in out
    code, out = run("audit_verify", capsys=capsys)
    assert code == 0 and "OK     139998: 6 events; checkpoint seq 6 of " in out

    cut_tail(muni_a, 3)
    head = AuditChainHead.objects.get(chain=str(muni_a.pk))
    assert head.last_seq == 3  # what the head check alone accepted before checkpoints
    report = verify_chain(muni_a)
    assert not report.ok and report.broken_at == 4
    assert "events 4-6 missing" in report.reason and "records seq 6, the database ends at 3" in report.reason
    code, out = run("audit_verify", capsys=capsys)
    assert code == 1
    assert "BROKEN 139998: first broken link at seq 4: events 4-6 missing: checkpoint checkpoints-" in out
    assert "OK     279994: 6 events; checkpoint seq 6" in out


@pytest.mark.django_db
def test_a_rewritten_tail_is_found_at_the_checkpoint(muni_a, capsys):
    """The insider recomputes a valid chain after the cut: the hashes line up, but the event
    at the checkpoint's seq is not the one signed."""
    steps(muni_a, 6)
    run("audit_checkpoint", capsys=capsys)
    cut_tail(muni_a, 3)
    steps(muni_a, 3)
    report = verify_chain(muni_a)
    assert report.broken_at == 6 and "is not the one checkpoint" in report.reason
    assert run("audit_verify", capsys=capsys)[0] == 1


@pytest.mark.django_db
def test_without_a_checkpoint_verify_warns_and_passes(muni_a, capsys):
    steps(muni_a, 2)
    code, out = run("audit_verify", capsys=capsys)
    assert code == 0
    assert "WARN   139998: no checkpoint of this chain yet (madoguchi audit checkpoint)" in out
    assert "WARN   deployment" not in out  # an empty chain needs no checkpoint


@pytest.mark.django_db
def test_only_moved_heads_are_checkpointed(muni_a, muni_b, sink, capsys):
    steps(muni_a, 2)
    steps(muni_b, 1)
    run("audit_checkpoint", capsys=capsys)
    steps(muni_a, 1)
    code, out = run("audit_checkpoint", capsys=capsys)
    assert code == 0 and "WROTE  139998: seq 3" in out and "279994" not in out.split("\n1 checkpoint")[0]
    assert "1 checkpoint(s) written, 1 chain(s) unchanged" in out
    lines = [json.loads(line) for line in sink_file(sink).read_text().splitlines()]
    assert [(c["checkpoint"]["municipality"], c["checkpoint"]["seq"]) for c in lines] == [
        ("139998", 2), ("279994", 1), ("139998", 3)]
    code, out = run("audit_checkpoint", "--all", capsys=capsys)
    assert "2 checkpoint(s) written" in out


@pytest.mark.django_db
def test_an_edited_checkpoint_line_is_found(muni_a, sink, capsys):
    steps(muni_a, 6)
    run("audit_checkpoint", capsys=capsys)
    path = sink_file(sink)
    line = json.loads(path.read_text())
    line["checkpoint"]["seq"] = 3  # lowered, to hide a later cut
    path.write_text(json.dumps(line) + "\n")
    cut_tail(muni_a, 3)
    code, out = run("audit_verify", capsys=capsys)
    assert code == 1
    assert (f"BROKEN 139998: checkpoints: {path.name}:1: the signature does not match the line "
            "(edited, or signed by another key)") in out


@pytest.mark.django_db
def test_a_line_signed_by_another_key_is_refused(muni_a, sink, capsys):
    events = steps(muni_a, 1)
    sink.mkdir()
    other = OKPKey.generate_key("Ed25519", private=True)
    forged = sign_line(other, {"v": 1, "chain": str(muni_a.pk), "municipality": "139998", "seq": 1,
                               "hash": events[0].hash, "at": "2026-12-04T00:00:00.000000Z"})
    (sink / "checkpoints-2026-12.jsonl").write_bytes(forged + b"\n")
    load_key(create=True)
    code, out = run("audit_verify", capsys=capsys)
    assert code == 1 and "checkpoints-2026-12.jsonl:1: the signature does not match" in out


@pytest.mark.django_db
def test_a_checkpoint_file_cut_short_is_found(muni_a, sink, capsys):
    steps(muni_a, 3)
    run("audit_checkpoint", capsys=capsys)
    steps(muni_a, 3)
    run("audit_checkpoint", capsys=capsys)
    path = sink_file(sink)
    first, second = path.read_bytes().splitlines(keepends=True)

    # Cut inside the last line (a torn write, or a file truncated by size).
    path.write_bytes(first + second[:40])
    code, out = run("audit_verify", capsys=capsys)
    assert code == 1 and f"BROKEN checkpoints: {path.name}:2: the last line is incomplete" in out

    # Whole lines gone from the end: the database records a checkpoint the file lacks.
    path.write_bytes(first)
    code, out = run("audit_verify", capsys=capsys)
    assert code == 1
    assert "BROKEN 139998: checkpoints: the checkpoint of seq 6 written at " in out
    assert "(it ends at seq 3): the checkpoint file was cut short or replaced" in out
    # --all writes the heads again (after the operator has looked): verify passes.
    run("audit_checkpoint", "--all", capsys=capsys)
    assert run("audit_verify", capsys=capsys)[0] == 0


@pytest.mark.django_db
def test_the_writer_continues_on_a_new_line_after_a_torn_one(muni_a, sink, capsys):
    steps(muni_a, 1)
    run("audit_checkpoint", capsys=capsys)
    path = sink_file(sink)
    with open(path, "ab") as fh:
        fh.write(b'{"checkpoint":{"v":1,"ch')  # a crash mid-write
    steps(muni_a, 1)
    run("audit_checkpoint", capsys=capsys)
    lines = path.read_bytes().split(b"\n")
    assert json.loads(lines[2])["checkpoint"]["seq"] == 2
    code, out = run("audit_verify", capsys=capsys)
    # The torn line stays a finding for a person; the new checkpoint is read and used.
    assert code == 1 and f"{path.name}:2: not a JSON line" in out
    assert "OK     139998: 2 events; checkpoint seq 2" in out


@pytest.mark.django_db
def test_a_checkpoint_cannot_bless_a_cut_chain(muni_a, sink, capsys):
    steps(muni_a, 6)
    run("audit_checkpoint", capsys=capsys)
    cut_tail(muni_a, 3)
    steps(muni_a, 1)
    code, out = run("audit_checkpoint", capsys=capsys)
    assert code == 1
    assert "REFUSED 139998: the chain now ends at seq 4 but was checkpointed at seq 6" in out
    assert AuditCheckpointMark.objects.get(chain=str(muni_a.pk)).seq == 6
    assert len(sink_file(sink).read_text().splitlines()) == 1

    # Nor can a later line, even one signed with the right key (the key's holder): the
    # newest checkpoint may not go back.
    head = AuditChainHead.objects.get(chain=str(muni_a.pk))
    line = sign_line(load_key(), {"v": 1, "chain": str(muni_a.pk), "municipality": "139998", "seq": head.last_seq,
                                  "hash": head.last_hash, "at": "2026-12-04T23:00:00.000000Z"})
    with open(sink_file(sink), "ab") as fh:
        fh.write(line + b"\n")
    code, out = run("audit_verify", capsys=capsys)
    assert code == 1 and ":2: records seq 4 after checkpoints-" in out and "the chain was rewound between them" in out


@pytest.mark.django_db
def test_the_deployment_chain_is_checkpointed(muni_a, capsys):
    record("operator.step", municipality=None)
    record("operator.step", municipality=None)
    code, out = run("audit_checkpoint", capsys=capsys)
    assert "WROTE  deployment: seq 2" in out
    cut_deployment = ("DELETE FROM audit_auditevent WHERE municipality_id IS NULL AND seq = 2", [])
    _tamper(*cut_deployment)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditchainhead SET last_seq = 1, last_hash = (SELECT hash FROM "
                       "audit_auditevent WHERE municipality_id IS NULL AND seq = 1) WHERE chain = 'deployment'")
    code, out = run("audit_verify", capsys=capsys)
    assert code == 1 and "BROKEN deployment: first broken link at seq 2: event 2 missing: checkpoint " in out


@pytest.mark.django_db
def test_the_key_is_private_printed_and_pinned(muni_a, settings, capsys):
    code, out = run("audit_checkpoint_key", capsys=capsys)
    thumbprint = out.splitlines()[0].removeprefix("thumbprint ")
    jwk = json.loads(out.splitlines()[1])
    assert code == 0 and set(jwk) == {"kty", "crv", "x"}  # public only
    assert OKPKey.import_key(jwk).thumbprint() == thumbprint
    assert stat.S_IMODE(os.stat(settings.DATA_DIR / KEY_FILE).st_mode) == 0o600

    steps(muni_a, 1)
    settings.AUDIT_CHECKPOINT_KEY_THUMBPRINT = "A" * 43  # the operator pinned another key
    with pytest.raises(CommandError) as info:
        call_command("audit_checkpoint")
    assert info.value.returncode == 2 and "not the pinned MADOGUCHI_AUDIT_CHECKPOINT_KEY_THUMBPRINT" in str(info.value)
    assert run("audit_verify", capsys=capsys)[0] == 1
    settings.AUDIT_CHECKPOINT_KEY_THUMBPRINT = thumbprint
    assert run("audit_checkpoint", capsys=capsys)[0] == 0


@pytest.mark.django_db
def test_an_unknown_sink_or_an_unwritable_directory_is_one_line(muni_a, settings, tmp_path):
    steps(muni_a, 1)
    settings.AUDIT_CHECKPOINT_SINK = "s3"
    with pytest.raises(CommandError) as info:
        call_command("audit_checkpoint")
    assert info.value.returncode == 2 and "MADOGUCHI_AUDIT_CHECKPOINT_SINK='s3' is not a checkpoint sink" in str(
        info.value)
    settings.AUDIT_CHECKPOINT_SINK = "directory"
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings.AUDIT_CHECKPOINT_DIR = blocker / "checkpoints"
    with pytest.raises(CommandError) as info:
        call_command("audit_checkpoint")
    assert info.value.returncode == 2 and "cannot append to" in str(info.value)
    assert not AuditCheckpointMark.objects.filter(chain=str(muni_a.pk)).exists()


@pytest.mark.django_db
def test_hostile_lines_are_named_not_crashed_on(muni_a, sink, capsys):
    steps(muni_a, 1)
    run("audit_checkpoint", capsys=capsys)
    path = sink_file(sink)
    good = path.read_bytes()
    checkpoint = json.loads(good)["checkpoint"]
    hostile = [b"[" * 100000, b"null", b'{"checkpoint": 1, "jws": 2}', b"\xff\xfe not utf-8",
               json.dumps({"checkpoint": {**checkpoint, "seq": "9" * 5000}, "jws": "a..b"}).encode(),
               json.dumps({"checkpoint": checkpoint, "jws": "not a jws"}).encode()]
    path.write_bytes(good + b"\n".join(hostile) + b"\n")
    code, out = run("audit_verify", capsys=capsys)
    assert code == 1
    assert f"{path.name}:2: not a JSON line" in out and f"{path.name}:3: not a checkpoint line" in out
    assert f"{path.name}:4: not a checkpoint line" in out and f"{path.name}:5: not a JSON line" in out
    assert f"{path.name}:6: the signature does not match" in out and f"{path.name}:7: the signature does not match" in out
    assert "OK     139998: 1 events; checkpoint seq 1" in out  # the good line still anchors the chain
