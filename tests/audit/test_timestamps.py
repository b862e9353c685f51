"""RFC 3161 time-stamps on checkpoints, against a fake TSA that speaks the real protocol over
HTTP (tests/audit/fake_tsa.py): the token is over the line's JWS, checked against the
configured roots, and a TSA that does not answer does not stop the anchor being written."""

import base64
import hashlib
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from madoguchi.audit.services import record
from madoguchi.audit.timestamps import _root_ders

from .fake_tsa import start_fake_tsa
from .test_checkpoints import sink_file


@pytest.fixture
def tsa(settings, tmp_path):
    fake = start_fake_tsa()
    roots = tmp_path / "tsa-roots.pem"
    roots.write_bytes(fake.root_pem)
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    settings.AUDIT_TSA_URL = fake.url
    settings.AUDIT_TSA_ROOTS = str(roots)
    _root_ders.cache_clear()
    yield fake
    fake.stop()
    _root_ders.cache_clear()


def run(command, capsys, *args):
    try:
        call_command(command, *args)
        code = 0
    except CommandError as exc:
        code = exc.returncode
    return code, capsys.readouterr().out


@pytest.mark.django_db
def test_checkpoints_are_time_stamped_and_checked(muni_a, tsa, settings, capsys):
    record("test.step", municipality=muni_a)
    record("test.step", municipality=muni_a)
    assert run("audit_checkpoint", capsys)[0] == 0
    path = sink_file(settings.AUDIT_CHECKPOINT_DIR)
    line = json.loads(path.read_text())
    assert tsa.requests == [hashlib.sha256(line["jws"].encode()).digest()]  # the imprint is the line's JWS
    code, out = run("audit_verify", capsys)
    assert code == 0 and "OK     139998: 2 events; checkpoint seq 2 of " in out and "(time-stamped 20" in out


@pytest.mark.django_db
def test_a_token_of_another_line_or_an_untrusted_tsa_fails(muni_a, tsa, settings, tmp_path, capsys):
    record("test.step", municipality=muni_a)
    run("audit_checkpoint", capsys)
    record("test.step", municipality=muni_a)
    run("audit_checkpoint", capsys)
    path = sink_file(settings.AUDIT_CHECKPOINT_DIR)
    first, second = [json.loads(x) for x in path.read_text().splitlines()]
    second["tst"] = first["tst"]  # a genuine token, moved onto another line
    path.write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n")
    code, out = run("audit_verify", capsys)
    assert code == 1 and f"BROKEN 139998: checkpoints: {path.name}:2: the time-stamp is not over this line" in out

    second["tst"] = base64.b64encode(b"not a token").decode()
    path.write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n")
    code, out = run("audit_verify", capsys)
    assert code == 1 and f"{path.name}:2: the time-stamp token is unreadable or invalid" in out

    other = start_fake_tsa()  # roots of another authority: the real tokens are no longer trusted
    try:
        (tmp_path / "tsa-roots.pem").write_bytes(other.root_pem)
        _root_ders.cache_clear()
        code, out = run("audit_verify", capsys)
        assert code == 1 and f"{path.name}:1: the time-stamp authority is not trusted" in out
    finally:
        other.stop()


@pytest.mark.django_db
def test_an_unreachable_tsa_still_gets_the_checkpoint_written(muni_a, tsa, settings, capsys):
    tsa.stop()
    record("test.step", municipality=muni_a)
    code, out = run("audit_checkpoint", capsys)
    assert code == 0 and "WROTE  139998: seq 1" in out
    assert "WARN   written without RFC 3161 time-stamps: time-stamp authority http://127.0.0.1:" in out
    assert "tst" not in json.loads(sink_file(settings.AUDIT_CHECKPOINT_DIR).read_text())
    code, out = run("audit_verify", capsys)
    assert code == 0 and "checkpoint seq 1 of " in out and "time-stamped" not in out
