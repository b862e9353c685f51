"""The server's certificate validator: installed trust anchors (the development CA's when
none are installed) and the imported CRLs under the data directory. Built once per
process and rebuilt when an operator installs an anchor or imports a CRL."""

import threading
import time
from pathlib import Path

from django.conf import settings

from madoguchi.pki import trust
from madoguchi.pki.commands import load_trust
from madoguchi.pki.crlindex import RevocationStore, crl_dir
from madoguchi.pki.validation import Validator

_lock = threading.Lock()
_cached: tuple[tuple, Validator] | None = None
_checked_at = 0.0
RECHECK_SECONDS = 5.0  # how soon a newly imported CRL or anchor takes effect


def _fingerprint(data_dir: Path) -> tuple:
    """Changes whenever an anchor or a CRL index is added, replaced or removed."""
    stamp = []
    for directory in (trust.trust_dir(data_dir), crl_dir(data_dir), trust.data_dir(data_dir) / "dev-ca"):
        if directory.is_dir():
            for path in sorted(directory.rglob("*")):
                if path.is_file():
                    st = path.stat()
                    stamp.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(stamp)


def validator() -> Validator:
    global _cached, _checked_at
    with _lock:
        if _cached is not None and time.monotonic() - _checked_at < RECHECK_SECONDS:
            return _cached[1]
        data_dir = Path(settings.DATA_DIR)
        fingerprint = _fingerprint(data_dir)
        _checked_at = time.monotonic()
        if _cached is None or _cached[0] != fingerprint:
            store = load_trust(str(data_dir))
            _cached = (fingerprint, Validator(store, RevocationStore.open(crl_dir(data_dir))))
        return _cached[1]


def reset() -> None:
    """Forget the validator (tests, and after an operator action in this process)."""
    global _cached, _checked_at
    with _lock:
        _cached, _checked_at = None, 0.0
