"""`madoguchi card ceremony URL`: the card client on a computer (a phone app does the same)."""

from __future__ import annotations

import getpass
import sys

from . import ceremony_client as client

PURPOSE_TEXT = {
    "login": ("ログイン", "sign-in"),
    "identify": ("本人確認（基本4情報の提供）", "identity verification (shares your basic four facts)"),
    "sign": ("電子署名", "electronic signature"),
    "presence": ("カードの確認（暗証番号なし）", "card check (no PIN)"),
}


def add_parser(sub) -> None:
    p = sub.add_parser("ceremony", help="read the card for a sign-in, identity check or signature (URL from the QR code)")
    p.add_argument("url", metavar="URL")
    from .cli import add_transport_options

    add_transport_options(p)
    p.add_argument("--pin", help="authentication PIN (asked when needed and not given)")
    p.add_argument("--password", help="signature password (asked when needed and not given)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation of who asks and why")


def _secret(given: str | None, prompt: str) -> str:
    if given is not None:
        return given
    if not sys.stdin.isatty():
        raise client.CeremonyRefused("no_secret", f"{prompt}: give it as an option (no terminal to ask on)")
    return getpass.getpass(f"{prompt}: ")


def run(args, open_channel, usage_error) -> int:
    from .jpki import JpkiAP

    if not args.url.startswith(("https://", "http://")):
        raise usage_error(f"URL must start with https:// (or http:// on this computer): {args.url}")

    def confirm(description: dict) -> bool:
        ja, en = PURPOSE_TEXT.get(description["purpose"], (description["purpose"], description["purpose"]))
        municipality = description.get("municipality", {})
        print(f"依頼元 / requested by: {description['requester']}（{municipality.get('name', '')} {municipality.get('code', '')}）")
        print(f"目的 / purpose:        {ja} / {en}: {description['reason']}")
        print(f"宛先 / audience:       {description['audience']}")
        print(f"有効期限 / expires:     {description.get('expires_at', '')}")
        if description["purpose"] == "sign":
            size = description["document"].get("size")
            print(f"署名する文書 / document: sha256 {description['document']['sha256']}"
                  + (f" ({size} bytes)" if size is not None else " (digest only)"))
        if args.yes:
            return True
        if not sys.stdin.isatty():
            return False
        return input("続けますか / continue? [y/N] ").strip().lower() in ("y", "yes", "はい")

    card = JpkiAP(open_channel(args))
    secrets = client.Secrets(pin=lambda: _secret(args.pin, "利用者証明用の暗証番号 / PIN"),
                             password=lambda: _secret(args.password, "署名用パスワード / signature password"))
    try:
        result = client.run(args.url, card, secrets, confirm)
    except client.CeremonyRefused as exc:
        sys.stderr.write(f"madoguchi card: {exc.message} ({exc.code})\n")
        return 1
    print(f"完了しました / done: {result.get('status')}")
    return 0
