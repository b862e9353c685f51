"""`madoguchi pki trust|crl|verify …` (issue 4). Wired into madoguchi.pki.cli by `register`
and `dispatch`; testable directly through `main(argv)`.

    madoguchi pki trust add FILE --purpose auth|sign   install a trust anchor (PEM/DER)
    madoguchi pki trust list                           anchors per purpose, with key ids
    madoguchi pki crl import FILE [--allow-expired]    verify and index a CRL (progress on stderr)
    madoguchi pki crl status                           the CRL held per CA key, fresh or stale
    madoguchi pki verify --signature F.p7s --content F the signer's four facts and the verdict

Exit codes: 0 done / valid; 1 refused / invalid (with the reason); 2 bad input (one line).
State lives under --data-dir / $MADOGUCHI_DATA_DIR / var: pki/trust/{auth,sign}/, pki/crl/.
With no anchor installed, the development CA (if one exists in the data directory) is trusted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from . import crlindex, trust, verify
from .errors import CRLRejected, MalformedInput, PKIError, TrustStoreError
from .validation import Validator, Verdict

UTC = dt.timezone.utc


class BadInput(Exception):
    pass


def load_trust(data: str | None) -> trust.TrustStore:
    """Installed anchors; when none are installed, the development CA's two roots."""
    return trust.load_default(data)


def register(sub) -> None:
    """Adds `trust`, `crl` and `verify` to an argparse subparsers object (AREA level)."""
    t = sub.add_parser("trust", help="trust anchors (J-LIS roots) per purpose")
    ts = t.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = ts.add_parser("add", help="install a CA certificate (PEM or DER) as a trust anchor")
    add.add_argument("file", metavar="FILE")
    add.add_argument("--purpose", required=True, choices=trust.PURPOSES)
    ts.add_parser("list", help="list the trust anchors")
    c = sub.add_parser("crl", help="certificate revocation lists")
    cs = c.add_subparsers(dest="action", metavar="ACTION", required=True)
    imp = cs.add_parser("import", help="verify a CRL (DER or PEM) and make it the current one for its CA")
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("--allow-expired", action="store_true", help="index a CRL whose nextUpdate has passed")
    imp.add_argument("--quiet", action="store_true", help="no progress on stderr")
    cs.add_parser("status", help="the CRL held for each CA key")
    v = sub.add_parser("verify", help="verify a detached CAdES/CMS signature")
    v.add_argument("--signature", required=True, metavar="FILE.p7s")
    v.add_argument("--content", required=True, metavar="FILE")
    v.add_argument("--json", action="store_true", help="print the verification record as JSON")


AREAS = ("trust", "crl", "verify")


def dispatch(args, out=None, err=None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    data = getattr(args, "data_dir", None)
    try:
        if args.area == "trust":
            return _trust(args, data, out)
        if args.area == "crl":
            return _crl(args, data, out, err)
        if args.area == "verify":
            return _verify(args, data, out)
    except BadInput as exc:
        err.write(f"madoguchi pki: {exc}\n")
        return 2
    except (MalformedInput, TrustStoreError) as exc:
        err.write(f"madoguchi pki: {exc}\n")
        return 2
    except PKIError as exc:
        err.write(f"madoguchi pki: refused: {exc}\n")
        return 1
    return 2


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from None


def _trust(args, data, out) -> int:
    directory = trust.trust_dir(data)
    if args.action == "add":
        for a in trust.install(_read(args.file), args.purpose, directory):
            out.write(f"installed {a.purpose} anchor {a.subject} key id {a.key_id.hex()} "
                      f"(valid to {a.cert.not_valid_after_utc:%Y-%m-%d})\n")
        return 0
    store = trust.TrustStore.load(directory)
    now = dt.datetime.now(UTC)
    if not store.anchors():
        out.write(f"no trust anchors installed in {directory}\n")
    for a in store.anchors():
        d = a.describe()
        state = "valid" if a.valid_at(now) else "EXPIRED" if now > a.cert.not_valid_after_utc else "not yet valid"
        out.write(f"{a.purpose}\t{d['key_id']}\t{d['not_before'][:10]}..{d['not_after'][:10]}\t{state}\t{a.subject}\n")
    return 0


def _crl(args, data, out, err) -> int:
    store_dir = crlindex.crl_dir(data)
    if args.action == "import":
        raw = _read(args.file)
        trusted = load_trust(data)
        store = crlindex.RevocationStore.open(store_dir)

        def progress(done: int, total: int) -> None:
            if not args.quiet:
                err.write(f"\rindexing {100 * done // max(total, 1):3d}%")
                if done >= total:
                    err.write("\n")
                err.flush()
        try:
            idx = store.import_crl(raw, trusted, allow_expired=args.allow_expired, progress=progress)
        except CRLRejected as exc:
            err.write(f"madoguchi pki: CRL refused ({exc.code}): {exc}\n")
            return 1
        i = idx.info
        out.write(f"imported CRL number {i.number} of {i.issuer} (key id {i.issuer_key_id}): {i.entries} "
                  f"revoked, thisUpdate {i.this_update}, nextUpdate {i.next_update}\n")
        return 0
    store = crlindex.RevocationStore.open(store_dir)
    now = dt.datetime.now(UTC)
    if not store.indexes():
        out.write(f"no CRL imported in {store_dir}\n")
    for idx in store.indexes():
        i = idx.info
        fresh = "fresh" if crlindex.RevocationPolicy().usable(i, now) else "STALE"
        out.write(f"{i.issuer_key_id}\tnumber {i.number}\t{i.entries} revoked\tthisUpdate {i.this_update}\t"
                  f"nextUpdate {i.next_update}\t{fresh}\t{i.issuer}\n")
    return 0


def _verify(args, data, out) -> int:
    signature = _read(args.signature)
    content = _read(args.content)
    validator = Validator(load_trust(data), crlindex.RevocationStore.open(crlindex.crl_dir(data)))
    record = verify.verify_detached(signature, content, validator)
    if args.json:
        out.write(json.dumps(record.as_dict(), ensure_ascii=False, indent=1) + "\n")
    else:
        f = record.facts
        if f is not None:
            out.write(f"氏名 name: {f.name}\n住所 address: {f.address}\n"
                      f"生年月日 birth: {f.birth.isoformat() if f.birth else f.birth_raw}\n"
                      f"性別 sex: {f.sex} ({f.sex_label[1]})\n")
            if f.has_substitutes:
                out.write(f"代替文字 substitutes: {f.name_substitute} / {f.address_substitute}\n")
        if record.signing_time_claimed:
            out.write(f"signingTime (claimed, not trusted): {record.signing_time_claimed.isoformat()}\n")
        if record.ceremony:
            out.write(f"ceremony: {record.ceremony.ceremony_id} audience {record.ceremony.audience}\n")
        rev = record.revocation or {}
        if rev.get("source") == "crl":
            out.write(f"revocation: CRL number {rev.get('crl_number')} thisUpdate {rev.get('crl_this_update')}\n")
        out.write(f"verdict: {record.verdict.value} — {record.message_en} {record.message_ja}\n")
        if not record.ok:
            out.write(f"reason: {record.log}\n")
    return 0 if record.verdict is Verdict.VALID else 1


class _OneLine(argparse.ArgumentParser):
    def error(self, message):
        raise BadInput(message)


def build_parser() -> argparse.ArgumentParser:
    p = _OneLine(prog="madoguchi pki")
    p.add_argument("--data-dir")
    sub = p.add_subparsers(dest="area", required=True, parser_class=_OneLine)
    register(sub)
    return p


def main(argv: list[str] | None = None, out=None, err=None) -> int:
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    except BadInput as exc:
        err.write(f"madoguchi pki: {exc}\n")
        return 2
    return dispatch(args, out, err)
