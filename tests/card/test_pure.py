"""card/ and pki/ are pure libraries: importing every module pulls in no Django."""

import subprocess
import sys

CHECK = r"""
import importlib, pkgutil, sys
import madoguchi.card, madoguchi.pki, madoguchi.registry
names = []
for pkg in (madoguchi.card, madoguchi.pki):
    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(info.name)
        names.append(info.name)
assert len(names) >= 10, names
leaked = sorted(m for m in sys.modules if m == "django" or m.startswith("django."))
assert not leaked, leaked
print("ok", len(names))
"""


def test_card_and_pki_never_import_django():
    env = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
