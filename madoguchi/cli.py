"""`madoguchi`: the operator's console command.

Our own subcommands are listed by `madoguchi --help`; any other word is handed to
Django's management commands (`madoguchi createsuperuser`, `madoguchi shell` …).
Bad arguments and broken configuration print one line and exit 2.
"""

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

EXIT_USAGE = 2

COMMANDS = {
    "serve": "serve the web application with gunicorn",
    "worker": "run the background task worker",
    "run": "migrate, load the demo, then serve and run the worker together (make run)",
    "demo": "load the demo municipalities and staff (idempotent)",
    "migrate": "create or upgrade the database",
    "audit": "audit trail tools: `audit verify [--municipality CODE]`, `audit checkpoint [--all]`, `audit checkpoint-key`",
    "staff": "staff accounts: `staff add --municipality CODE --username U --role R`",
    "residents": "resident records: `residents import FILE --municipality CODE [--encoding cp932]`",
    "procedures": "procedure definitions: `procedures load FILE|DIR --municipality CODE`, `procedures catalog --municipality CODE`",
    "retention": "delete applications past retention and expired drafts: `retention purge [--municipality CODE] [--dry-run] [--as-of DATE]`",
    "oidc": "OpenID Connect relying parties and keys: `oidc client add …`, `oidc keys rotate|withdraw …`",
    "library": "library cards: `library sip2 --municipality CODE --port N [--host H]` (SIP2 patron status, docs/library.md)",
    "terminal": "the citizen card terminal agent: `terminal keygen|sync|run` (docs/citizencard.md)",
    "card": "My Number Card tools (virtual cards, readers): `card --help`",
    "pki": "certificates and the development CAs: `pki --help`",
    "natapp-standin": "DEVELOPMENT ONLY: a local stand-in for the national authentication app's servers",
    "documents": "signed documents: `documents install-key --municipality CODE --key K.pem --cert C.pem [--chain CHAIN.pem]`",
    "moving": "引越しワンストップ: `moving export` writes signed 転出 packages, `moving import FILE` receives them",
    "exports": "exports to core systems: `exports expire` deletes expired export files now",
    "payments": "payments: `payments reconcile [--date YYYY-MM-DD] [--municipality CODE]` (収納消込)",
    "receiving-accounts": "公金受取口座: `receiving-accounts import FILE --municipality CODE [--encoding cp932]` (the national registry's extract)",
    "zengin": "全銀協 総合振込 files: `zengin write PAYEES.csv --out FILE …`, `zengin read FILE`",
}

# Commands implemented by the pure libraries: they run without Django.
LIBRARY_COMMANDS = {"card": "madoguchi.card.cli", "pki": "madoguchi.pki.cli", "zengin": "madoguchi.zengin.cli",
                    "natapp-standin": "madoguchi.standins.natapp",
                    "terminal": "madoguchi.terminal.cli"}


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        sys.stderr.write(f"madoguchi: {message} (see madoguchi --help)\n")
        sys.exit(EXIT_USAGE)


def die(message: str) -> None:
    sys.stderr.write(f"madoguchi: {message}\n")
    sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="madoguchi",
        description="madoguchi (窓口): an online city hall on the My Number Card.",
        epilog="Any other command is passed to Django's management commands (e.g. madoguchi shell).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name in ("serve", "run"):
        p = sub.add_parser(name, help=COMMANDS[name])
        p.add_argument("--host", default=os.environ.get("MADOGUCHI_HOST", "127.0.0.1"))
        p.add_argument("--port", type=port_number, default=int(os.environ.get("MADOGUCHI_PORT", "8000")))
        p.add_argument("--workers", type=positive_int, default=2, help="gunicorn worker processes")
        p.add_argument("--proxy-protocol-from", metavar="ADDRESSES", type=proxy_addresses,
                       default=os.environ.get("MADOGUCHI_PROXY_PROTOCOL_FROM", ""),
                       help="the load balancer's addresses or networks (comma-separated): connections from them "
                            "may start with a PROXY protocol header, whose client address becomes the request's "
                            "(per-address limits, logs); docs/operations.md")
    sub.add_parser("worker", help=COMMANDS["worker"])
    for name in LIBRARY_COMMANDS:  # listed here; main() hands them to their library
        sub.add_parser(name, help=COMMANDS[name], add_help=False)
    demo = sub.add_parser("demo", help=COMMANDS["demo"])
    demo.add_argument("--base-url", default=None)
    sub.add_parser("migrate", help=COMMANDS["migrate"])
    audit = sub.add_parser("audit", help=COMMANDS["audit"])
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True, parser_class=OneLineParser)
    verify = audit_sub.add_parser("verify", help="recompute the hash chains; name the first broken link")
    verify.add_argument("--municipality", metavar="CODE")
    checkpoint = audit_sub.add_parser("checkpoint", help="write signed checkpoints of the chain heads outside the database")
    checkpoint.add_argument("--all", action="store_true", help="every chain, moved or not")
    audit_sub.add_parser("checkpoint-key", help="print the checkpoint key's public JWK and thumbprint")
    staff = sub.add_parser("staff", help=COMMANDS["staff"])
    staff_sub = staff.add_subparsers(dest="staff_command", metavar="ACTION", required=True, parser_class=OneLineParser)
    add = staff_sub.add_parser("add", help="create a staff account with a TOTP device")
    add.add_argument("--municipality", required=True, metavar="CODE")
    add.add_argument("--username", required=True)
    add.add_argument("--role", required=True, choices=["administrator", "reviewer", "viewer"])
    add.add_argument("--department", metavar="DEPARTMENT_CODE")
    residents = sub.add_parser("residents", help=COMMANDS["residents"])
    residents_sub = residents.add_subparsers(dest="residents_command", metavar="ACTION", required=True,
                                             parser_class=OneLineParser)
    imp = residents_sub.add_parser("import", help="import the core system's CSV (all or nothing)")
    imp.add_argument("file")
    imp.add_argument("--municipality", required=True, metavar="CODE")
    imp.add_argument("--encoding", default="utf-8-sig", choices=["utf-8-sig", "cp932"])
    procedures = sub.add_parser("procedures", help=COMMANDS["procedures"])
    procedures_sub = procedures.add_subparsers(dest="procedures_command", metavar="ACTION", required=True,
                                               parser_class=OneLineParser)
    proc_load = procedures_sub.add_parser("load", help="check and publish definitions (all or nothing)")
    proc_load.add_argument("path", metavar="FILE|DIR")
    proc_load.add_argument("--municipality", required=True, metavar="CODE")
    proc_catalog = procedures_sub.add_parser("catalog", help="install the starter catalog of ten procedures")
    proc_catalog.add_argument("--municipality", required=True, metavar="CODE")
    retention = sub.add_parser("retention", help=COMMANDS["retention"])
    retention_sub = retention.add_subparsers(dest="retention_command", metavar="ACTION", required=True,
                                             parser_class=OneLineParser)
    retention_purge = retention_sub.add_parser("purge", help="delete what has run out (audited; shows progress)")
    retention_purge.add_argument("--municipality", metavar="CODE")
    retention_purge.add_argument("--dry-run", action="store_true")
    retention_purge.add_argument("--as-of", metavar="YYYY-MM-DD")
    documents = sub.add_parser("documents", help=COMMANDS["documents"])
    documents_sub = documents.add_subparsers(dest="documents_command", metavar="ACTION", required=True,
                                             parser_class=OneLineParser)
    install_key = documents_sub.add_parser("install-key", help="install the municipality's real signing key")
    install_key.add_argument("--municipality", required=True, metavar="CODE")
    install_key.add_argument("--key", required=True, metavar="KEY.pem")
    install_key.add_argument("--cert", required=True, metavar="CERT.pem")
    install_key.add_argument("--chain", default="", metavar="CHAIN.pem")
    moving = sub.add_parser("moving", help=COMMANDS["moving"])
    moving_sub = moving.add_subparsers(dest="moving_command", metavar="ACTION", required=True,
                                       parser_class=OneLineParser)
    moving_sub.add_parser("import", help="receive a signed 転出 package, or an exchange file of many (shows "
                                         "progress; each refused one listed)").add_argument("file", metavar="FILE")
    moving_export = moving_sub.add_parser("export", help="write the signed 転出 package of an accepted 転出届, or with "
                                                         "--new every package not exported yet as one exchange file")
    moving_export.add_argument("--municipality", required=True, metavar="CODE", help="the origin's 団体コード")
    moving_export.add_argument("--new", action="store_true",
                               help="every package for another deployment not exported yet (instead of RECEIPT)")
    moving_export.add_argument("application", metavar="RECEIPT", nargs="?", help="the 転出届's 受付番号")
    moving_export.add_argument("file", metavar="FILE")
    exports = sub.add_parser("exports", help=COMMANDS["exports"])
    exports_sub = exports.add_subparsers(dest="exports_command", metavar="ACTION", required=True,
                                         parser_class=OneLineParser)
    exports_sub.add_parser("expire", help="delete expired export files now")
    payments = sub.add_parser("payments", help=COMMANDS["payments"])
    payments_sub = payments.add_subparsers(dest="payments_command", metavar="ACTION", required=True,
                                           parser_class=OneLineParser)
    reconcile = payments_sub.add_parser("reconcile", help="match a day's settled transactions against payments")
    reconcile.add_argument("--date", metavar="YYYY-MM-DD", help="the day in Japan (default: yesterday)")
    reconcile.add_argument("--municipality", metavar="CODE")
    receiving = sub.add_parser("receiving-accounts", help=COMMANDS["receiving-accounts"])
    receiving_sub = receiving.add_subparsers(dest="receiving_command", metavar="ACTION", required=True,
                                             parser_class=OneLineParser)
    receiving_import = receiving_sub.add_parser("import", help="import the national registry's extract (all or nothing)")
    receiving_import.add_argument("file")
    receiving_import.add_argument("--municipality", required=True, metavar="CODE")
    receiving_import.add_argument("--encoding", default="utf-8-sig", choices=["utf-8-sig", "cp932"])
    receiving_import.add_argument("--source", default="csv", metavar="NAME")
    library = sub.add_parser("library", help=COMMANDS["library"])
    library_sub = library.add_subparsers(dest="library_command", metavar="ACTION", required=True,
                                         parser_class=OneLineParser)
    library_sip2 = library_sub.add_parser("sip2", help="answer SIP2 patron status requests (23) from self-checkouts")
    library_sip2.add_argument("--municipality", required=True, metavar="CODE")
    library_sip2.add_argument("--port", required=True, type=int)
    library_sip2.add_argument("--host", default="127.0.0.1")
    oidc = sub.add_parser("oidc", help=COMMANDS["oidc"])
    oidc_sub = oidc.add_subparsers(dest="oidc_command", metavar="ACTION", required=True, parser_class=OneLineParser)
    oidc_client = oidc_sub.add_parser("client", help="relying parties")
    oidc_client_sub = oidc_client.add_subparsers(dest="oidc_client_command", metavar="ACTION", required=True,
                                                 parser_class=OneLineParser)
    client_add = oidc_client_sub.add_parser("add", help="register a relying party (prints client_id and secret)")
    client_add.add_argument("--municipality", required=True, metavar="CODE")
    client_add.add_argument("--name", required=True)
    client_add.add_argument("--redirect-uri", required=True, action="append", dest="redirect_uris")
    client_add.add_argument("--post-logout-redirect-uri", action="append", dest="post_logout_redirect_uris",
                            default=[])
    client_add.add_argument("--scope", default="openid")
    client_add.add_argument("--legal-basis", required=True,
                            choices=["municipal_service", "signature_verifier", "platform_operator", "user_verifier"])
    client_add.add_argument("--legal-basis-note", default="")
    client_add.add_argument("--auth-method", required=True,
                            choices=["client_secret_basic", "private_key_jwt", "none"],
                            help="none: a native app, a public client without a secret (RFC 8252)")
    client_add.add_argument("--jwks", metavar="FILE")
    client_add.add_argument("--alg", default="ES256", choices=["RS256", "ES256"])
    client_add.add_argument("--sector", default="")
    oidc_keys = oidc_sub.add_parser("keys", help="ID-token signing keys")
    oidc_keys_sub = oidc_keys.add_subparsers(dest="oidc_keys_command", metavar="ACTION", required=True,
                                             parser_class=OneLineParser)
    rotate = oidc_keys_sub.add_parser("rotate", help="rotate a signing key (the old one stays in the JWKS a while)")
    rotate.add_argument("--municipality", required=True, metavar="CODE")
    rotate.add_argument("--alg", required=True, choices=["RS256", "ES256"])
    withdraw = oidc_keys_sub.add_parser("withdraw", help="withdraw a compromised key: out of the JWKS and "
                                                         "refused for signing at once (audited)")
    withdraw.add_argument("kid")
    withdraw.add_argument("--municipality", metavar="CODE", help="needed only when two issuers hold the kid")
    return parser


def port_number(text: str) -> int:
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port number")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def proxy_addresses(text: str) -> str:
    """Comma-separated IP addresses or networks (no names, no wildcard: a PROXY header from
    anyone else would let a client choose its own address)."""
    import ipaddress

    items = [item.strip() for item in text.split(",") if item.strip()]
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r} is not an IP address or network") from None
    return ",".join(items)


def setup_django() -> None:
    """Loads settings; a broken configuration is one line and exit 2."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")
    from django.core.exceptions import ImproperlyConfigured

    try:
        import django

        django.setup()
        from django.conf import settings

        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
    except ImproperlyConfigured as exc:
        die(f"configuration error: {exc}")
    except OSError as exc:
        die(f"cannot use the data directory: {exc}")


def manage(*args: str, **options) -> int:
    """Runs a Django management command in this process; CommandError keeps its exit code."""
    from django.core.management import call_command
    from django.core.management.base import CommandError
    from django.db import DatabaseError

    try:
        call_command(*args, **options)
    except CommandError as exc:
        sys.stderr.write(f"madoguchi: {exc}\n")
        return exc.returncode
    except DatabaseError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        sys.stderr.write(f"madoguchi: database error: {first_line} (has `madoguchi migrate` run?)\n")
        return EXIT_USAGE
    return 0


def gunicorn_argv(host: str, port: int, workers: int, proxy_protocol_from: str = "") -> list[str]:
    # Behind HAProxy (`send-proxy`): the client's address arrives in a PROXY protocol header,
    # accepted only from the balancer's addresses; plain HTTP (health checks) still works.
    proxy = ["--proxy-protocol", "auto", "--proxy-allow-from", proxy_protocol_from] if proxy_protocol_from else []
    return [
        # gunicorn with a drain before its graceful stop (core/serving.py).
        sys.executable, "-m", "madoguchi.core.serving", "madoguchi.wsgi:application",
        "--bind", f"{host}:{port}",
        "--workers", str(workers), "--worker-class", "madoguchi.core.serving.ThreadWorker", "--threads", "4",
        "--graceful-timeout", "10", "--timeout", "60",
        # Our own middleware writes the request log (JSON, with the request id).
        "--error-logfile", "-", "--log-level", "warning",
        # Its handlers get the personal-data filter: no query string in its messages.
        "--logger-class", "madoguchi.core.gunicorn_logging.Logger",
        *proxy,
    ]


def server_run_dir(port: int) -> None:
    """This server's run directory, in the environment its processes inherit:
    MADOGUCHI_RUN_DIR, else DATA_DIR/run/<port>. It holds Prometheus' multiprocess files for
    the gunicorn workers (and, under `run`, the task worker), emptied at start
    (core/metrics.py), and the drain mark `draining` a SIGTERM creates (core/serving.py) and
    /readyz reads, removed at start. Local to one server: when machines share the data
    directory, give each server a MADOGUCHI_RUN_DIR of its own (scripts/topology does)."""
    import shutil

    from django.conf import settings

    run = Path(os.environ.get("MADOGUCHI_RUN_DIR", "").strip() or settings.DATA_DIR / "run" / str(port))
    path = run / "metrics"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    (run / "draining").unlink(missing_ok=True)
    os.environ["MADOGUCHI_RUN_DIR"] = str(run)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    os.environ["MADOGUCHI_DRAIN_MARK"] = str(run / "draining")


def worker_argv() -> list[str]:
    return [sys.executable, "-m", "madoguchi", "worker"]


def supervise(commands: list[list[str]]) -> int:
    """Runs the processes together; Ctrl-C or SIGTERM stops all of them cleanly."""
    procs = [subprocess.Popen(cmd) for cmd in commands]
    stopping = False

    def stop(signum=None, frame=None):
        nonlocal stopping
        if stopping:
            return
        stopping = True
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    try:
        while True:
            for proc in procs:
                if proc.poll() is not None:
                    stop()
                    break
            if stopping:
                break
            try:
                procs[0].wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
    except KeyboardInterrupt:
        stop()
    code = 0
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        code = code or (proc.returncode if proc.returncode and proc.returncode > 0 else 0)
    return code


def kid_last(argv: list[str]) -> list[str]:
    """A key id is base64url and may start with "-" (a JWK thumbprint): argparse would take it for an
    option, so `oidc keys withdraw -ikh…` moves it behind "--", where it can only be the kid."""
    if argv[:3] != ["oidc", "keys", "withdraw"] or "--" in argv:
        return argv
    rest, kids, value_next = [], [], False
    for token in argv[3:]:
        if value_next or not token.startswith("-") or token in ("-h", "--help", "--municipality") \
                or token.startswith("--municipality="):
            rest.append(token)
            value_next = token == "--municipality"
        else:
            kids.append(token)
    return argv[:3] + rest + (["--", *kids] if kids else [])


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in LIBRARY_COMMANDS:
        import importlib

        try:
            module = importlib.import_module(LIBRARY_COMMANDS[argv[0]])
        except ModuleNotFoundError:
            die(f"{argv[0]}: not available in this version")
        return module.main(argv[1:])
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        # Passthrough to Django's management commands.
        setup_django()
        from django.core.management import execute_from_command_line, get_commands

        if argv[0] not in get_commands() and argv[0] != "help":
            die(f"unknown command {argv[0]!r} (see madoguchi --help)")
        execute_from_command_line(["madoguchi", *argv])
        return 0
    args = build_parser().parse_args(kid_last(argv))
    if args.command is None:
        build_parser().print_help()
        return EXIT_USAGE
    setup_django()
    if args.command == "migrate":
        return manage("migrate", "--no-input", verbosity=1)
    if args.command == "demo":
        return manage("demo", *(["--base-url", args.base_url] if args.base_url else []))
    if args.command == "audit" and args.audit_command == "checkpoint":
        return manage("audit_checkpoint", *(["--all"] if args.all else []))
    if args.command == "audit" and args.audit_command == "checkpoint-key":
        return manage("audit_checkpoint_key")
    if args.command == "audit":
        return manage("audit_verify", *(["--municipality", args.municipality] if args.municipality else []))
    if args.command == "staff":
        extra = ["--department", args.department] if args.department else []
        return manage("staff_add", "--municipality", args.municipality, "--username", args.username,
                      "--role", args.role, *extra)
    if args.command == "residents":
        return manage("residents_import", args.file, "--municipality", args.municipality, "--encoding", args.encoding)
    if args.command == "procedures" and args.procedures_command == "load":
        return manage("procedures_load", args.path, "--municipality", args.municipality)
    if args.command == "procedures":
        return manage("procedures_load", "--catalog", "--municipality", args.municipality)
    if args.command == "retention":
        return manage("retention_purge", *(["--municipality", args.municipality] if args.municipality else []),
                      *(["--dry-run"] if args.dry_run else []), *(["--as-of", args.as_of] if args.as_of else []))
    if args.command == "library":
        return manage("library_sip2", "--municipality", args.municipality, "--port", str(args.port),
                      "--host", args.host)
    if args.command == "oidc" and args.oidc_command == "client":
        extra = [*(["--jwks", args.jwks] if args.jwks else []), *(["--sector", args.sector] if args.sector else [])]
        for uri in args.redirect_uris:
            extra += ["--redirect-uri", uri]
        for uri in args.post_logout_redirect_uris:
            extra += ["--post-logout-redirect-uri", uri]
        return manage("oidc_client_add", "--municipality", args.municipality, "--name", args.name,
                      "--scope", args.scope, "--legal-basis", args.legal_basis,
                      "--legal-basis-note", args.legal_basis_note, "--auth-method", args.auth_method,
                      "--alg", args.alg, *extra)
    if args.command == "oidc" and args.oidc_command == "keys" and args.oidc_keys_command == "withdraw":
        return manage("oidc_keys_withdraw", *(["--municipality", args.municipality] if args.municipality else []),
                      "--", args.kid)
    if args.command == "oidc" and args.oidc_command == "keys":
        return manage("oidc_keys_rotate", "--municipality", args.municipality, "--alg", args.alg)
    if args.command == "documents":
        return manage("documents_install_key", "--municipality", args.municipality, "--key", args.key,
                      "--cert", args.cert, *(["--chain", args.chain] if args.chain else []))
    if args.command == "exports":
        return manage("exports_expire")
    if args.command == "moving" and args.moving_command == "export":
        if bool(args.new) == bool(args.application):
            die("moving export: give either a 転出届's RECEIPT or --new")
        if args.new:
            return manage("moving_export_new", args.municipality, args.file)
        return manage("moving_export", args.municipality, args.application, args.file)
    if args.command == "moving":
        return manage("moving_import", args.file)
    if args.command == "payments":
        return manage("payments_reconcile", *(["--date", args.date] if args.date else []),
                      *(["--municipality", args.municipality] if args.municipality else []))
    if args.command == "receiving-accounts":
        return manage("receiving_accounts_import", args.file, "--municipality", args.municipality,
                      "--encoding", args.encoding, "--source", args.source)
    if args.command == "worker":
        # The audit checkpoints run on the worker's own schedule: at start, then every
        # MADOGUCHI_AUDIT_CHECKPOINT_SECONDS (the task queues its next run).
        code = manage("audit_checkpoint", "--schedule", verbosity=0)
        if code:
            return code
        return manage("worker", "--queue-name", "*", "--no-reload")
    if args.command == "serve":
        server_run_dir(args.port)
        os.execv(sys.executable, gunicorn_argv(args.host, args.port, args.workers, args.proxy_protocol_from))
    if args.command == "run":
        code = manage("migrate", "--no-input", verbosity=0)
        if code:
            return code
        code = manage("demo", "--base-url", f"http://{args.host}:{args.port}")
        if code:
            return code
        server_run_dir(args.port)  # the worker's counters join the server's
        # One process for everything, no balancer in front: nothing to drain for.
        os.environ["MADOGUCHI_DRAIN_SECONDS"] = "0"
        print(f"\nmadoguchi: serving on http://{args.host}:{args.port}/ with the task worker; Ctrl-C stops both.", flush=True)
        return supervise([gunicorn_argv(args.host, args.port, args.workers, args.proxy_protocol_from), worker_argv()])
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
