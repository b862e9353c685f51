"""Runs the three certificate benchmarks of issue 4 in turn (one command):

    .venv/bin/python bench/pki_all.py [--ten-million]

bench/pki_signin.py, bench/pki_crl.py (1M serials; with --ten-million also 10M), bench/pki_cades.py.
Each prints its figures beside the baseline measured in the same run. Exit 0 when all ran.
"""

from __future__ import annotations

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    crl_args = ["--ten-million"] if "--ten-million" in sys.argv[1:] else []
    status = 0
    for script, args in (("pki_signin.py", []), ("pki_crl.py", crl_args), ("pki_cades.py", [])):
        print(f"\n== {script} {' '.join(args)}".rstrip(), flush=True)
        status |= subprocess.run([sys.executable, os.path.join(HERE, script), *args]).returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
