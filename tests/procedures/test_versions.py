"""Procedures and versions: publishing, immutability, loading files, the CLI and the demo."""

import copy
import json
import subprocess
import sys

import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.tenancy import tenant
from madoguchi.procedures.models import Procedure, ProcedureVersion, PublishedVersionImmutable
from madoguchi.procedures.services import (
    DefinitionInvalid, catalog_dir, install, install_catalog, load, publish, save_draft,
)

from .test_definitions import CATALOG, juminhyo


def test_publish_a_draft_and_retire_the_previous_version(muni_a):
    first = publish(save_draft(muni_a, juminhyo()))
    changed = juminhyo()
    changed["fee"]["items"][0]["yen"] = 350
    second = publish(save_draft(muni_a, changed))
    first.refresh_from_db()
    assert (first.number, first.status, second.number, second.status) == (1, "retired", 2, "published")
    with tenant(muni_a):
        assert Procedure.objects.get(slug="juminhyo-copy").current_version() == second
        assert AuditEvent.objects.filter(action="procedures.published").count() == 2


def test_a_published_version_is_immutable(muni_a):
    version = publish(save_draft(muni_a, juminhyo()))
    version.definition["fee"]["items"][0]["yen"] = 1
    from madoguchi.procedures.services import definition_sha256
    version.definition_sha256 = definition_sha256(version.definition)
    with tenant(muni_a), pytest.raises(PublishedVersionImmutable):
        version.save()
    with tenant(muni_a), pytest.raises(PublishedVersionImmutable):
        ProcedureVersion.objects.get(pk=version.pk).delete()
    version.refresh_from_db()
    assert version.definition["fee"]["items"][0]["yen"] == 300


def test_an_invalid_draft_cannot_be_published_and_says_why(muni_a):
    broken = juminhyo()
    broken["assurance"] = "maybe"
    draft = save_draft(muni_a, broken)
    with pytest.raises(DefinitionInvalid) as exc:
        publish(draft)
    assert "/assurance" in str(exc.value)
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_install_is_idempotent_and_per_municipality(muni_a, muni_b):
    results = install_catalog(muni_a)
    assert len(results) == len(CATALOG) and all(changed for _, changed in results)
    again = install_catalog(muni_a)
    assert not any(changed for _, changed in again)
    with tenant(muni_b):
        assert not Procedure.objects.exists()
    install(muni_b, juminhyo())
    with tenant(muni_b):
        assert list(Procedure.objects.values_list("slug", flat=True)) == ["juminhyo-copy"]
    with tenant(muni_a):
        assert Procedure.objects.count() == len(CATALOG)


def test_a_bad_file_in_a_directory_stores_nothing(muni_a, tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(juminhyo(), ensure_ascii=False), encoding="utf-8")
    bad = copy.deepcopy(CATALOG["sodai-gomi"])
    bad["fee"]["kind"] = "per_page"
    (tmp_path / "b.json").write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DefinitionInvalid) as exc:
        load(muni_a, tmp_path)
    assert "b.json" in str(exc.value) and "/fee/kind" in str(exc.value)
    with tenant(muni_a):
        assert not Procedure.objects.exists()
    (tmp_path / "b.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DefinitionInvalid, match="not JSON"):
        load(muni_a, tmp_path)
    (tmp_path / "b.json").write_text(json.dumps(juminhyo(), ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DefinitionInvalid, match="also in"):
        load(muni_a, tmp_path)


def cli(*args, data_dir, db):
    env = {"MADOGUCHI_ENV": "test", "MADOGUCHI_DATA_DIR": str(data_dir), "MADOGUCHI_DATABASE_URL": f"sqlite:///{db}",
           "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "madoguchi", *args], env=env, capture_output=True, text=True, timeout=120)


def test_cli_load_and_catalog_with_one_line_errors(tmp_path):
    db = tmp_path / "cli.sqlite3"
    assert cli("migrate", data_dir=tmp_path, db=db).returncode == 0
    assert cli("demo", data_dir=tmp_path, db=db).returncode == 0
    # The demo installed the catalog for 窓口市: loading it again changes nothing.
    again = cli("procedures", "catalog", "--municipality", "139998", data_dir=tmp_path, db=db)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("unchanged") == len(CATALOG)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(juminhyo(), ensure_ascii=False), encoding="utf-8")
    loaded = cli("procedures", "load", str(good), "--municipality", "279994", data_dir=tmp_path, db=db)
    assert loaded.returncode == 0 and "279994 juminhyo-copy: published v1" in loaded.stdout
    bad = tmp_path / "bad.json"
    broken = juminhyo()
    del broken["legal_basis"]
    broken["retention"] = "forever"
    bad.write_text(json.dumps(broken), encoding="utf-8")
    lone = tmp_path / "lone.json"  # a lone surrogate escape: a 500-style traceback before, now exit 2
    lone.write_text(json.dumps(juminhyo()).replace('"ja": "', '"ja": "\\ud800', 1), encoding="utf-8")
    for args, expected in [
        (["load", str(lone), "--municipality", "279994"], "/title/ja: a lone surrogate"),
        (["load", str(bad), "--municipality", "279994"], "bad.json"),
        (["load", str(tmp_path / "missing.json"), "--municipality", "279994"], "no such file"),
        (["load", str(good), "--municipality", "999999"], "no such municipality"),
        (["load", str(good)], "--municipality"),
    ]:
        result = cli("procedures", *args, data_dir=tmp_path, db=db)
        assert result.returncode == 2, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert expected in result.stderr
    assert "legal_basis" in cli("procedures", "load", str(bad), "--municipality", "279994",
                                data_dir=tmp_path, db=db).stderr


def test_catalog_dir_is_inside_the_package():
    assert (catalog_dir() / "tenshutsu.json").exists()
