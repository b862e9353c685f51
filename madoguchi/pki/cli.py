"""`madoguchi pki …`: the development JPKI CA.

    madoguchi pki dev-ca export DIR          CA certificates (PEM) and fresh CRLs (PEM, DER)
    madoguchi pki dev-ca revoke SERIAL [--reason REASON]
    madoguchi pki trust|crl|verify …         trust anchors, CRLs, signature verification
                                             (madoguchi.pki.commands)

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
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        if args.area in commands.AREAS:
            return commands.dispatch(args)
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
