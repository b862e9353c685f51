"""`madoguchi pki …`: the development JPKI CA.

    madoguchi pki dev-ca export DIR          CA certificates (PEM) and fresh CRLs (PEM, DER)
    madoguchi pki dev-ca revoke SERIAL [--reason REASON]
    madoguchi pki trust|crl|verify …         trust anchors, CRLs, signature verification
                                             (madoguchi.pki.commands)
    madoguchi pki verify-pdf FILE [--trust ROOT.pem]
                                             a PAdES-signed PDF: signer and verdict (exit 0
                                             valid, 1 invalid, 2 bad input); the trust anchor
                                             defaults to the development LGPKI root

Exit codes: 0 done, 1 refused (e.g. unknown serial), 2 bad arguments (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys

from . import commands
from .devca import REASON_ALIASES, DevCA, DevCAError, parse_serial


class UsageError(Exception):
    pass


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="madoguchi pki", description="Certificates and the development CAs.")
    p.add_argument("--data-dir", help="data directory (default $MADOGUCHI_DATA_DIR or var/)")
    sub = p.add_subparsers(dest="area", metavar="AREA", required=True, parser_class=OneLineParser)
    dev = sub.add_parser("dev-ca", help="the development JPKI CA (O=JPKI-DEV), created on first use")
    dev_sub = dev.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=OneLineParser)
    export = dev_sub.add_parser("export", help="write the CA certificates and current CRLs to DIR")
    export.add_argument("dir", metavar="DIR")
    revoke = dev_sub.add_parser("revoke", help="revoke a certificate serial (decimal, 0x-hex or aa:bb hex)")
    revoke.add_argument("serial", metavar="SERIAL")
    revoke.add_argument("--reason", default="unspecified", choices=sorted(REASON_ALIASES))
    commands.register(sub)
    pdf = sub.add_parser("verify-pdf", help="verify a signed PDF: signer and verdict (0 valid, 1 invalid, 2 bad input)")
    pdf.add_argument("file", metavar="FILE")
    pdf.add_argument("--trust", metavar="ROOT.pem",
                     help="trust anchor(s), PEM (default: the development LGPKI root in the data directory)")
    return p


def verify_pdf_command(args) -> int:
    import logging
    from pathlib import Path

    from . import lgpki, pades

    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)  # its tracebacks are not the verdict
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
    if args.trust:
        try:
            anchors = pades.load_pem_certificates(Path(args.trust).read_bytes())
        except OSError as exc:
            raise UsageError(f"cannot read {args.trust}: {exc.strerror}") from None
        except pades.PdfInputError as exc:
            raise UsageError(str(exc)) from None
    else:
        try:
            anchors = [lgpki.DevLGPKI.open(args.data_dir, create=False).root]
        except lgpki.LGPKIError:
            raise UsageError("no development LGPKI root in the data directory: give --trust ROOT.pem") from None
    try:
        verdict = pades.verify_pdf(data, anchors)
    except pades.PdfInputError as exc:
        raise UsageError(f"{args.file}: {exc}") from None
    print(f"signer: {verdict.signer_cn or '-'}")
    print(f"subject: {verdict.signer or '-'}")
    print(f"signed at (claimed by the signer): {verdict.signed_at or '-'}")
    print(f"verdict: {verdict.summary}")
    return 0 if verdict.ok else 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        if args.area in commands.AREAS:
            return commands.dispatch(args)
        if args.area == "verify-pdf":
            return verify_pdf_command(args)
        if args.action == "export":
            ca = DevCA.open(args.data_dir)
            for path in ca.export(args.dir):
                print(path)
            return 0
        if args.action == "revoke":
            try:
                serial = parse_serial(args.serial)
            except DevCAError as exc:
                raise UsageError(str(exc)) from None
            ca = DevCA.open(args.data_dir)
            purpose = ca.revoke(serial, REASON_ALIASES[args.reason])
            print(f"revoked {serial:X} ({purpose} CA, reason {args.reason}); run `dev-ca export` to publish the CRL")
            return 0
    except UsageError as exc:
        sys.stderr.write(f"madoguchi pki: {exc}\n")
        return 2
    except DevCAError as exc:
        sys.stderr.write(f"madoguchi pki: {exc}\n")
        return 1
    return 2
