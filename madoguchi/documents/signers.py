"""The document-signer plug point: where a municipality's document-signing identity
(key, certificate, chain) comes from.

`DocumentSigner` is the base, `SIGNERS` the registry; settings.DOCUMENT_SIGNERS names the
signers to ask, in order, and the first with an identity for the municipality signs. A
signer marked `development` is skipped where development keys are not allowed
(DOCUMENTS_DEVELOPMENT_CA_ALLOWED is off in production), so production never signs with
the development CA even when it is configured.
"""

from __future__ import annotations

import os
import threading
from typing import Protocol

from madoguchi.pki import lgpki
from madoguchi.registry import Registry


class DocumentSigner(Protocol):
    development: bool  # a stand-in for development and tests; refused in production

    def identity(self, data_dir: str | os.PathLike, code: str, name: str) -> lgpki.SigningIdentity | None:
        """The municipality's signing identity, or None when this signer has none for it."""


SIGNERS: Registry[DocumentSigner] = Registry("document signer")


class InstalledKey:
    development = False

    def identity(self, data_dir, code, name):
        return lgpki.load_installed(data_dir, code)


class DevelopmentLGPKI:
    development = True

    def identity(self, data_dir, code, name):
        return lgpki.DevLGPKI.open(data_dir).organisation(code, name)


SIGNERS.register("installed", "the operator's key and certificate for the municipality "
                              "(madoguchi documents install-key)")(InstalledKey())
SIGNERS.register("development-lgpki", "development: an organisation certificate of the development "
                                      "LGPKI-shaped CA in the data directory, not J-LIS; refused in "
                                      "production")(DevelopmentLGPKI())


# Loading a private key checks it (RSA: tens of milliseconds), so identities are kept per
# process, keyed by what would change them: the installed certificate's file (a key installed
# by `madoguchi documents install-key` in another process is picked up by its new mtime;
# a development identity made afresh likewise).
_identities: dict = {}
_identities_lock = threading.Lock()


def _stamp(data_dir, code: str) -> tuple:
    """The certificate files an identity is read from, as (mtime, size) or None each."""
    stamps = []
    for path in (lgpki.installed_dir(data_dir, code) / "cert.pem",
                 lgpki.data_dir(data_dir) / "lgpki-dev" / "organisations" / code / "cert.pem"):
        try:
            stat = os.stat(path)
        except OSError:
            stamps.append(None)
        else:
            stamps.append((stat.st_mtime_ns, stat.st_size, stat.st_ino))
    return tuple(stamps)


def signing_identity(data_dir, code: str, name: str, *, names: list[str],
                     development_allowed: bool) -> lgpki.SigningIdentity:
    """The first identity the named signers have. Raises registry.UnknownName for an
    unknown name and lgpki.LGPKIError when none has one."""
    key = (str(data_dir), code, name, tuple(names), development_allowed, _stamp(data_dir, code))
    found = _identities.get(key)
    if found is None:
        found = _signing_identity(data_dir, code, name, names=names, development_allowed=development_allowed)
        with _identities_lock:
            if len(_identities) > 1024:
                _identities.clear()
            _identities[key] = found
    return found


def _signing_identity(data_dir, code: str, name: str, *, names: list[str],
                      development_allowed: bool) -> lgpki.SigningIdentity:
    signers = [SIGNERS.get(n) for n in names]  # every configured name is checked, used or not
    for signer in signers:
        if signer.development and not development_allowed:
            continue
        found = signer.identity(data_dir, code, name)
        if found is not None:
            return found
    raise lgpki.LGPKIError(f"no document-signing key installed for {code} (madoguchi documents install-key)")
