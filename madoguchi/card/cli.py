"""`madoguchi card …`: issue, inspect and use virtual cards; use a real card in a reader.

Exit codes: 0 done; 1 the card refused (wrong PIN with the tries left, blocked PIN, no
card…); 2 bad arguments (one line on stderr).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import signal
import sys
from pathlib import Path

from . import apdu as A
from . import constants as C

EXIT_OK, EXIT_CARD, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def data_dir(args) -> Path:
    return Path(getattr(args, "data_dir", None) or os.environ.get("MADOGUCHI_DATA_DIR") or "var")


def card_path(args, value: str) -> Path:
    """A card is a directory; a bare name means <data dir>/cards/<name>."""
    from .transport import virtual_card_directory

    return virtual_card_directory(value, data_dir(args))


# The transport each card option opens (card/transport.py TRANSPORTS): --card CARD is a
# virtual card, --reader [NAME] a PC/SC reader.
TRANSPORT_OPTIONS = {"card": "virtual", "reader": "pcsc"}


def birth_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def add_transport_options(parser) -> None:
    """One option per transport in TRANSPORT_OPTIONS; exactly one is given."""
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--card", metavar="CARD", help="a virtual card (name under <data dir>/cards, or a directory)")
    group.add_argument("--reader", nargs="?", const="", metavar="NAME",
                       help="a PC/SC reader (first whose name starts with NAME; any reader with a card)")


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="madoguchi card", description="My Number Card tools: virtual cards and PC/SC readers.")
    p.add_argument("--data-dir", help="data directory (default $MADOGUCHI_DATA_DIR or var/)")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=OneLineParser)

    issue = sub.add_parser("issue", help="issue a virtual card from the development CA")
    issue.add_argument("--out", required=True, metavar="CARD", help="card directory (or a name under <data dir>/cards/)")
    issue.add_argument("--name", required=True, help="氏名, family and given name separated by a space")
    issue.add_argument("--birth", required=True, type=birth_date, help="YYYY-MM-DD")
    issue.add_argument("--sex", required=True, choices=["1", "2", "9"], help="1 male, 2 female, 9 not applicable")
    issue.add_argument("--address", required=True)
    issue.add_argument("--pin", help="authentication PIN, 4 digits (random when omitted)")
    issue.add_argument("--password", help="signature password, 6–16 of A–Z 0–9 (random when omitted)")
    issue.add_argument("--text-pin", help="text-input-support PIN, 4 digits (random when omitted)")
    issue.add_argument("--token", default=C.TOKEN_CARD, choices=sorted(C.TOKEN_KINDS), help=argparse.SUPPRESS)

    show = sub.add_parser("show", help="token, certificates, PIN tries left (and the four facts with --text-pin)")
    add_transport_options(show)
    show.add_argument("--password", help="signature password: also show the signature certificate")
    show.add_argument("--text-pin", help="text-input-support PIN: also show the basic four facts")
    show.add_argument("--individual-number", action="store_true",
                      help="also show the individual number (needs --text-pin; only for a legal My Number task)")

    sign = sub.add_parser("sign", help="detached CAdES-BES signature (DER) by the card's signature key")
    add_transport_options(sign)
    sign.add_argument("--in", dest="infile", required=True, metavar="FILE")
    sign.add_argument("--out", dest="outfile", required=True, metavar="FILE.p7s")
    sign.add_argument("--password", help="signature password (prompted when omitted)")

    card_face = sub.add_parser("face", help="read and verify the card face (券面事項確認AP) with 照合番号B")
    add_transport_options(card_face)
    card_face.add_argument("--code-b", metavar="DIGITS", help="照合番号B, 14 digits (or give the three parts below)")
    card_face.add_argument("--birth", type=birth_date, help="birth date YYYY-MM-DD (printed on the card)")
    card_face.add_argument("--expiry-year", type=int, metavar="YYYY", help="the card's expiry year")
    card_face.add_argument("--security-code", metavar="NNNN", help="the 4-digit security code on the card")
    card_face.add_argument("--issuer-key", action="append", default=[], metavar="KEYID=PEM",
                           help="a CV certificate issuer: key id (e.g. 5000023/001) and its public key file; "
                                "default: the demo issuer beside the development CA")
    card_face.add_argument("--photo", metavar="FILE.jp2", help="write the face photo (JPEG 2000) here")

    serve = sub.add_parser("serve-pcsc", help="serve a virtual card to PC/SC through vpcd until stopped")
    serve.add_argument("card", metavar="CARD")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="vpcd port (default from /etc/reader.conf.d/vpcd)")

    from . import ceremony_cli

    ceremony_cli.add_parser(sub)
    reset = sub.add_parser("reset-pin", help="unblock and optionally reset the PINs (issuing office; needs the dev CA)")
    reset.add_argument("card", metavar="CARD")
    reset.add_argument("--pin")
    reset.add_argument("--password")
    reset.add_argument("--text-pin")

    sub.add_parser("readers", help="list PC/SC readers")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        return {
            "issue": cmd_issue, "show": cmd_show, "face": cmd_face, "sign": cmd_sign, "serve-pcsc": cmd_serve,
            "reset-pin": cmd_reset, "readers": cmd_readers, "ceremony": cmd_ceremony,
        }[args.action](args)
    except UsageError as exc:
        sys.stderr.write(f"madoguchi card: {exc}\n")
        return EXIT_USAGE
    except A.WrongPin as exc:
        sys.stderr.write(f"暗証番号が違います（残り{exc.tries_left}回）。/ Wrong PIN or password: "
                         f"{exc.tries_left} tries left.\n")
        return EXIT_CARD
    except A.PinBlocked:
        sys.stderr.write("暗証番号がロックされています。お住まいの市区町村の窓口で初期化してください。/ "
                         "The PIN is blocked: please visit your city hall to have it reset.\n")
        return EXIT_CARD
    except A.CardError as exc:
        sys.stderr.write(f"madoguchi card: {exc}\n")
        return EXIT_CARD


# -- commands ---------------------------------------------------------------------------

def cmd_issue(args) -> int:
    import secrets

    from madoguchi.pki.devca import DevCA

    from . import virtual

    name = args.name.replace(" ", "\u3000", 1) if "\u3000" not in args.name else args.name
    generated = {}
    pin = args.pin or generated.setdefault("pin", f"{secrets.randbelow(10**4):04d}")
    password = args.password or generated.setdefault(
        "password", "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(4))
        + f"{secrets.randbelow(10**4):04d}")
    text_pin = args.text_pin or generated.setdefault("text_pin", f"{secrets.randbelow(10**4):04d}")
    out = card_path(args, args.out)
    for policy, value in ((C.AUTH_PIN, pin), (C.SIGN_PASSWORD, password.upper()), (C.TEXT_PIN, text_pin)):
        if not policy.valid(value):
            raise UsageError(f"{policy.label} must be {policy.description}")
    if (out / "card.json").exists():
        raise UsageError(f"{out} already holds a card")
    ca = DevCA.open(data_dir(args))
    try:
        virtual.issue(out, ca, virtual.Holder(name, args.address, args.birth, args.sex), pin, password, text_pin,
                      token=args.token)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(f"issued a virtual card in {out} (development CA {ca.directory})")
    if generated:
        # The PIN slip (暗証番号記載票): printed once, never stored in clear.
        labels = {"pin": "authentication PIN", "password": "signature password", "text_pin": "text PIN"}
        for key, value in generated.items():
            print(f"  {labels[key]}: {value}")
    return EXIT_OK


def open_channel(args):
    from .transport import Channel, NoSuchTarget, open_transport

    option, name = next((o, n) for o, n in TRANSPORT_OPTIONS.items() if getattr(args, o, None) is not None)
    try:
        return Channel(open_transport(name, getattr(args, option), data_dir(args)))
    except NoSuchTarget as exc:
        raise UsageError(str(exc)) from None


def describe_cert(label: str, der: bytes) -> list[str]:
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    return [
        f"{label}:",
        f"  serial   {cert.serial_number:X}",
        f"  subject  {cert.subject.rfc4514_string()}",
        f"  issuer   {cert.issuer.rfc4514_string()}",
        f"  valid    {cert.not_valid_before_utc:%Y-%m-%d %H:%M} – {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
    ]


def tries_text(status) -> str:
    if status.verified:
        return "verified"
    return "blocked" if status.tries_left == 0 else f"{status.tries_left} tries left"


def cmd_show(args) -> int:
    from . import mynumber
    from .jpki import InvalidPinFormat, JpkiAP
    from .text import TextAP

    if args.individual_number and not args.text_pin:
        raise UsageError("--individual-number needs --text-pin")
    channel = open_channel(args)
    try:
        ap = JpkiAP(channel)
        label = ap.token_label()
        lines = [f"token            {label} ({C.TOKEN_KINDS.get(label, 'unknown')})"]
        lines += [
            f"auth PIN         {tries_text(ap.pin_status('auth'))}",
            f"sign password    {tries_text(ap.pin_status('sign'))}",
        ]
        text = TextAP(channel)
        lines.append(f"text PIN         {tries_text(text.pin_status())}")
        try:
            lines += describe_cert("authentication certificate", ap.certificate("auth"))
        except A.SecurityStatusNotSatisfied:
            lines.append("authentication certificate: needs the PIN on this token")
        lines += describe_cert("authentication CA", ap.ca_certificate("auth"))
        lines += describe_cert("signature CA", ap.ca_certificate("sign"))
        try:
            if args.password:
                lines += describe_cert("signature certificate", ap.certificate_after_verify("sign", args.password))
            if args.text_pin:
                facts = text.basic_facts(args.text_pin)
                lines += ["basic four facts:", f"  name     {facts.name}", f"  address  {facts.address}",
                          f"  birth    {facts.birth.isoformat()}", f"  sex      {facts.sex} ({facts.sex_label})"]
                if args.individual_number:
                    number = text.individual_number()
                    assert mynumber.is_valid(number)
                    lines.append(f"  individual number  {number}")
        except InvalidPinFormat as exc:
            raise UsageError(str(exc)) from None
        print("\n".join(lines))
    finally:
        channel.close()
    return EXIT_OK


def face_issuer_keys(args) -> dict:
    """--issuer-key KEYID=PEM…, or the demo issuer of the data directory's development CA."""
    from cryptography.hazmat.primitives import serialization

    from . import face, virtual

    keys = {}
    for item in args.issuer_key:
        ident, sep, path = item.partition("=")
        number, _slash, group = ident.partition("/")
        try:
            if not sep:
                raise ValueError("expected KEYID=PEM")
            key_id = face.key_id(number, group or "001")
            key = serialization.load_pem_public_key(Path(path).read_bytes())
        except (ValueError, OSError) as exc:
            raise UsageError(f"--issuer-key {item}: {exc}") from None
        keys[key_id] = key
    if keys:
        return keys
    demo = data_dir(args) / "dev-ca"
    if not (demo / virtual.FACE_ISSUER_KEY_FILE).exists():
        raise UsageError(f"no card face issuer key: give --issuer-key (no demo issuer in {demo})")
    return virtual.face_issuer_keys(demo)


def cmd_face(args) -> int:
    from . import face
    from .face import FaceAP

    parts = (args.birth, args.expiry_year, args.security_code)
    if args.code_b is not None and any(p is not None for p in parts):
        raise UsageError("give --code-b or --birth/--expiry-year/--security-code, not both")
    try:
        if args.code_b is not None:
            code = args.code_b
        elif all(p is not None for p in parts):
            code = face.code_b(*parts)
        else:
            raise UsageError("give --code-b, or all of --birth, --expiry-year and --security-code")
        face.check_code(C.FACE_CODE_B, code)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    issuers = face_issuer_keys(args)
    channel = open_channel(args)
    try:
        result = FaceAP(channel, issuers).read(code, text=True)
    except A.WrongPin as exc:
        sys.stderr.write(f"照合番号Bが違います（残り{exc.tries_left}回）。/ Wrong verification code B: "
                         f"{exc.tries_left} tries left.\n")
        return EXIT_CARD
    except A.PinBlocked:
        sys.stderr.write("照合番号Bがロックされています。/ Verification code B is blocked: the issuing "
                         "office can reset it.\n")
        return EXIT_CARD
    finally:
        channel.close()
    if args.photo:
        try:
            Path(args.photo).write_bytes(result.photo)
        except OSError as exc:
            raise UsageError(f"cannot write {args.photo}: {exc.strerror}") from None
    era = face.era_yymmdd(result.birth)
    print("\n".join([
        f"card face verified: record signed by {face.key_id_text(result.signer_key_id)}, "
        f"CV certificate by issuer {face.key_id_text(result.issuer_key_id)}",
        f"  birth          {result.birth.isoformat()} (era YYMMDD {era})",
        f"  sex            {result.sex} ({result.sex_label})",
        f"  expiry         {result.expiry.isoformat()}",
        f"  security code  {result.security_code}",
        f"  photo          {len(result.photo)} bytes, JPEG 2000" + (f" → {args.photo}" if args.photo else ""),
        f"  images         name {len(result.name_image)} B, address {len(result.address_image)} B, "
        f"security code {len(result.security_code_image)} B (PNG)",
        "text AP (same code; not covered by the card face signature):",
        f"  name           {result.name}",
        f"  address        {result.address}",
    ]))
    return EXIT_OK


def read_secret(value: str | None, prompt: str) -> str:
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise UsageError("--password is required when there is no terminal to prompt on")
    return getpass.getpass(prompt)


def cmd_sign(args) -> int:
    from madoguchi.pki import cms

    from .jpki import InvalidPinFormat, JpkiAP

    try:
        content = Path(args.infile).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {args.infile}: {exc.strerror}") from None
    password = read_secret(args.password, "署名用パスワード / signature password: ")
    channel = open_channel(args)
    try:
        ap = JpkiAP(channel)
        try:
            cert = ap.certificate_after_verify("sign", password)
        except InvalidPinFormat as exc:
            raise UsageError(str(exc)) from None
        der = cms.sign_detached(content, cert, lambda info: ap.sign_digest_info("sign", info))
    finally:
        channel.close()
    try:
        Path(args.outfile).write_bytes(der)
    except OSError as exc:
        raise UsageError(f"cannot write {args.outfile}: {exc.strerror}") from None
    print(f"signed {args.infile} → {args.outfile} ({len(der)} bytes, detached CAdES-BES)")
    return EXIT_OK


def cmd_serve(args) -> int:
    from .virtual import VirtualCard
    from .vpcd import VpcdServer, configured_port, reader_name

    path = card_path(args, args.card)
    try:
        card = VirtualCard(path)
    except FileNotFoundError:
        raise UsageError(f"no virtual card in {path}") from None
    server = VpcdServer(card, host=args.host, port=args.port)

    def stop(signum, frame):
        server.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.connect(timeout=10)
    except ConnectionError as exc:
        sys.stderr.write(f"madoguchi card: {exc}\n")
        return EXIT_CARD
    print(f"serving {path} as a card in PC/SC reader {reader_name(server.port, configured_port())!r} "
          f"(vpcd {server.host}:{server.port}); Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    except ConnectionError as exc:
        if not server._stop.is_set():
            sys.stderr.write(f"madoguchi card: {exc}\n")
            return EXIT_CARD
    return EXIT_OK


def cmd_reset(args) -> int:
    from madoguchi.pki.devca import DevCA, DevCAError

    from . import virtual

    path = card_path(args, args.card)
    try:
        ca = DevCA.open(data_dir(args), create=False)
        done = virtual.reset_pins(path, ca, pin=args.pin, password=args.password, text_pin=args.text_pin)
    except DevCAError as exc:
        sys.stderr.write(f"madoguchi card: {exc}: only the issuing office can reset a PIN\n")
        return EXIT_CARD
    except PermissionError as exc:
        sys.stderr.write(f"madoguchi card: {exc}\n")
        return EXIT_CARD
    except FileNotFoundError:
        raise UsageError(f"no virtual card in {path}") from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(f"reset {', '.join(done)} of {path}")
    return EXIT_OK


def cmd_readers(args) -> int:
    from .transport import reader_names

    for name in reader_names():
        print(name)
    return EXIT_OK


def cmd_ceremony(args) -> int:
    from . import ceremony_cli

    return ceremony_cli.run(args, open_channel, UsageError)
