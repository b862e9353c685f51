"""Two separate deployments (their own data directories and databases): the origin exports a
signed 転出 package, the destination's operator imports it with `madoguchi moving import`
once the origin's root is in MADOGUCHI_MOVING_TRUST_ROOTS; without it, or a second time, the
import is exit 2 with one line and nothing is received. The destination confirms the 転入 and
its nightly `moving export --new` carries the signed 転入通知 back: the origin imports it and
its records are moved out on the move-in day."""

import datetime as dt
import subprocess
import sys

from cryptography.hazmat.primitives import serialization

from madoguchi.audit.models import AuditEvent
from madoguchi.cli import main
from madoguchi.moving.models import OutgoingMove
from madoguchi.municipalities.tenancy import tenant
from madoguchi.pki import lgpki
from madoguchi.residents.models import ResidentRecord
from tests.applications.conftest import app_settings, catalog_a, taro  # noqa: F401  (fixtures)
from tests.ceremonies.conftest import dev_pki, pki  # noqa: F401  (fixtures)
from tests.moving.test_origin import accepted, produced, staff_a  # noqa: F401  (fixtures)
from tests.moving.test_package import documents_settings  # noqa: F401  (autouse fixture)
from tests.server import fresh_database_url, madoguchi, server_env


def test_export_then_import_on_another_deployment(catalog_a, pki, taro, staff_a, settings, tmp_path, capsys):
    # This deployment has no 見本町: the 転出 waits for its code, then is exported.
    application = accepted(catalog_a, taro, pki.taro, staff_a, new_municipality="見本町")
    move = produced(catalog_a)
    assert move.status == "needs_destination"
    from madoguchi.moving import services

    services.set_destination(staff_a, move, "279994")
    out = tmp_path / "move.json"
    assert main(["moving", "export", "--municipality", catalog_a.code, application.receipt_number, str(out)]) == 0
    root = tmp_path / "origin-root.pem"
    root.write_bytes(lgpki.DevLGPKI.open(settings.DATA_DIR, create=False).root.public_bytes(serialization.Encoding.PEM))

    url, drop = fresh_database_url("moving_other")
    try:
        env = server_env(tmp_path / "other", url, MADOGUCHI_ENV="test")
        madoguchi(env, "migrate")
        madoguchi(env, "demo", timeout=600)  # 窓口市 and 見本町 of the other deployment

        def import_(extra):
            result = subprocess.run([sys.executable, "-m", "madoguchi", "moving", "import", str(out)],
                                    env={**env, **extra}, capture_output=True, text=True, timeout=120)
            return result.returncode, result.stdout, result.stderr

        code, _, err = import_({})
        assert code == 2 and err.count("\n") == 1 and "trusted root" in err
        code, stdout, _ = import_({"MADOGUCHI_MOVING_TRUST_ROOTS": str(root)})
        assert code == 0 and application.receipt_number in stdout and "279994" in stdout
        code, _, err = import_({"MADOGUCHI_MOVING_TRUST_ROOTS": str(root)})
        assert code == 2 and "already been received" in err
        code, _, err = import_({"MADOGUCHI_MOVING_TRUST_ROOTS": str(tmp_path / "missing.pem")})
        assert code == 2 and "cannot be read" in err

        # 見本町 confirms the 転入 at its counter; the signed 転入通知 leaves with the nightly file.
        madoguchi(env, "shell", "-c", CONFIRM_AT_DESTINATION)
        night = tmp_path / "night.json"
        out_text = madoguchi(env, "moving", "export", "--municipality", "279994", "--new", str(night))
        assert "0 転出 package(s) and 1 転入通知 of 279994" in out_text
        other_root = tmp_path / "destination-root.pem"
        other_root.write_bytes(lgpki.DevLGPKI.open(tmp_path / "other", create=False).root.public_bytes(
            serialization.Encoding.PEM))
    finally:
        drop()

    assert main(["moving", "import", str(night)]) == 2  # 窓口市 does not trust 見本町's root yet
    assert "trusted root" in capsys.readouterr().err
    with tenant(catalog_a):
        assert OutgoingMove.objects.get().status == "ready"
    settings.MOVING_TRUST_ROOTS = str(other_root)
    assert main(["moving", "import", str(night)]) == 0
    assert "received 1 of 1 packages (0 転入予定, 1 転入通知)" in capsys.readouterr().out
    with tenant(catalog_a):
        assert OutgoingMove.objects.get().status == "confirmed"
        record = ResidentRecord.objects.get(resident_number="100001")
    assert record.status == "moved_out" and record.left_on == dt.date.today()
    assert AuditEvent.unscoped.filter(action="moving.moved_out", municipality=catalog_a).count() == 1
    assert main(["moving", "import", str(night)]) == 2  # once only
    assert "already been received" in capsys.readouterr().err


CONFIRM_AT_DESTINATION = """
import datetime as dt
from madoguchi.moving import services
from madoguchi.moving.models import IncomingMove
from madoguchi.municipalities.models import Municipality
from madoguchi.municipalities.tenancy import tenant
destination = Municipality.objects.get(code="279994")
with tenant(destination):
    incoming = IncomingMove.objects.get()
services.confirm(None, incoming, moved_in_on=dt.date.today())
services.produce_notice(incoming)  # what the worker's task does
"""
