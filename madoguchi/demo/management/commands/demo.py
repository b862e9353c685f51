import sys

import segno
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from madoguchi.demo.services import (
    DEMO_PASSWORD, DEMO_PASSWORD_SIGN, DEMO_PIN, DEMO_TEXT_PIN, load_demo, load_demo_residents_and_cards,
)
from madoguchi.documents import fonts
from madoguchi.staff.services import current_totp


class Command(BaseCommand):
    help = "Load the demo municipalities and staff (idempotent) and print the staff sign-in."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default=None, help="default: MADOGUCHI_SITE_URL, else the host and "
                                                                  "port `madoguchi serve` uses (MADOGUCHI_HOST, MADOGUCHI_PORT)")
        parser.add_argument("--qr", action="store_true", help="print the TOTP QR codes even when not on a terminal")

    def handle(self, *args, base_url, qr, **options):
        base_url = (base_url or settings.SITE_URL).rstrip("/")
        if not getattr(settings, "DEMO_ALLOWED", False):
            raise CommandError("the demo is not available in the production profile", returncode=2)
        try:  # before anything is loaded: the demo draws seals and renders PDFs
            fonts.require(fonts.PDF_FONTS)
        except fonts.FontsMissing as exc:
            raise CommandError(str(exc), returncode=2) from None
        logins = load_demo()
        cards = load_demo_residents_and_cards(settings.DATA_DIR)
        from madoguchi.library.services import ensure_demo as ensure_library
        from madoguchi.municipalities.tenancy import tenant

        with tenant(logins[0].municipality):  # 図書館カード (docs/library.md): a library and its credential
            library, library_credential = ensure_library(logins[0].device.user)
        out = self.stdout
        out.write("デモを読み込みました / demo loaded")
        out.write(f"住民向けページ / resident portal: {base_url}/{logins[0].municipality.code}/")
        out.write(f"パスワード / password (all demo staff): {DEMO_PASSWORD}")
        out.write("")
        out.write("デモ用の仮想マイナンバーカード / demo virtual cards (fictional residents of 窓口市):")
        for name, directory in cards:
            out.write(f"  {name}: {directory}")
        out.write(f"  暗証番号 / PIN {DEMO_PIN}  署名用パスワード / signature password {DEMO_PASSWORD_SIGN}"
                  f"  券面事項入力補助 / text PIN {DEMO_TEXT_PIN}")
        out.write("")
        out.write(f"図書館カード / library card: POST {base_url}/{logins[0].municipality.code}/api/library/{library}/patron"
                  f"  Authorization: Bearer {library_credential}")
        out.write(f"  自動貸出機 / self-checkout page: {base_url}/{logins[0].municipality.code}/library/{library}/self-checkout/"
                  f"  (madoguchi terminal run --service library --library {library} …)")
        show_qr = qr or sys.stdout.isatty()
        for login in logins:
            out.write("")
            out.write(f"[{login.municipality.name} {login.municipality.code}] {login.username} ({login.role})")
            out.write(f"  sign in: {base_url}/{login.municipality.code}/staff/login/")
            out.write(f"  TOTP:    {login.device.config_url}")
            out.write(f"  code now / 現在の確認コード: {current_totp(login.device)}")
            if show_qr and login.role == "administrator" and login is logins[0]:
                out.write("  認証アプリで読み取ってください / scan with an authenticator app:")
                segno.make(login.device.config_url, error="m").terminal(out=sys.stdout, compact=True)
