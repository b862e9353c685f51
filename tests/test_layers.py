"""The import-linter contracts in pyproject.toml: the layers of the house and the models
only their own app imports (docs/architecture.md)."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"


def lint_imports(config: Path) -> subprocess.CompletedProcess:
    command = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(command), "--config", str(config), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_contracts_are_kept():
    result = lint_imports(PYPROJECT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_new_upward_import_breaks_the_layers(tmp_path):
    """The contracts can fail: with applications put below procedures (which it imports),
    its imports of procedures are reported as upward."""
    text = PYPROJECT.read_text()
    applications, procedures = '    "madoguchi.applications",\n', '    "madoguchi.oidc | madoguchi.procedures",\n'
    assert applications + procedures in text
    config = tmp_path / "pyproject.toml"
    config.write_text(text.replace(applications + procedures, procedures + applications))
    result = lint_imports(config)
    assert result.returncode == 1
    assert "madoguchi.applications is not allowed to import madoguchi.procedures" in result.stdout


def test_no_contract_ignores_an_import():
    """Issue 14 removed every known violation; a new crossing between apps goes through a
    seam (docs/architecture.md), never through an ignore_imports entry."""
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    ignored = [entry for contract in config["contracts"] for entry in contract.get("ignore_imports", [])]
    assert ignored == [], ignored
