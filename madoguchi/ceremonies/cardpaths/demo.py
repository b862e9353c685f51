"""Demo profile only: one of the virtual cards `madoguchi demo` issued into the data
directory, read on this computer with the PIN typed into the page — the same card client
a phone or `madoguchi card ceremony` runs. Never offered outside the demo."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from .. import callers, errors, services
from ..models import Ceremony
from .base import CARD_PATHS, CardPath, error_page


def demo_cards() -> list[str]:
    """The virtual cards `madoguchi demo` issued into the data directory."""
    directory = settings.DATA_DIR / "cards"
    if not getattr(settings, "DEMO_ALLOWED", False) or not directory.is_dir():
        return []
    return sorted(p.name for p in directory.iterdir() if (p / "card.json").is_file())


class DemoVirtualCard(CardPath):
    template = "ceremonies/cardpaths/demo.html"
    label = "デモ用の仮想カード（画面で読み取り）"

    def offered(self, request, ceremony) -> bool:
        return ceremony.status == Ceremony.Status.OPEN and bool(demo_cards())

    def context(self, request, ceremony) -> dict:
        return {"cards": demo_cards()}

    def answer(self, request, ceremony_id: str):
        from madoguchi.card import apdu
        from madoguchi.card.ceremony_client import CeremonyRefused, Secrets, answer
        from madoguchi.card.jpki import InvalidPinFormat, JpkiAP
        from madoguchi.card.transport import Channel, VirtualTransport
        from madoguchi.card.virtual import VirtualCard

        code = request.municipality.code
        if not getattr(settings, "DEMO_ALLOWED", False):
            return error_page(request, errors.forbidden())
        name = request.POST.get("card", "")
        if name not in demo_cards():
            messages.error(request, _("デモ用カードを選んでください。"))
            return redirect("ceremonies:wait", code, ceremony_id)
        try:
            ceremony = services.find(ceremony_id)
            if callers.session_entry(request, ceremony_id)[0] is None:
                raise errors.forbidden()
            description = services.describe(ceremony)
        except errors.CeremonyError as exc:
            return error_page(request, exc)
        card = JpkiAP(Channel(VirtualTransport(VirtualCard(settings.DATA_DIR / "cards" / name))))
        secrets = Secrets(pin=lambda: request.POST.get("pin", ""), password=lambda: request.POST.get("password", ""))
        password = lambda: card.verifying == "sign"  # noqa: E731  (which secret a refusal is about)
        try:
            body = answer(description, card, secrets)
        except InvalidPinFormat:
            messages.error(request, _("署名用電子証明書のパスワードは、英数字6〜16桁で入力してください。") if password()
                           else _("利用者証明用電子証明書の暗証番号は、数字4桁で入力してください。"))
        except apdu.WrongPin as exc:
            messages.error(request, (_("署名用電子証明書のパスワードが違います（あと%(tries)d回間違えるとロックされます）。") if password()
                                     else _("利用者証明用電子証明書の暗証番号が違います（あと%(tries)d回間違えるとロックされます）。"))
                           % {"tries": exc.tries_left})
        except apdu.PinBlocked:
            messages.error(request, _("署名用電子証明書のパスワードがロックされています。お住まいの市区町村の窓口でロックの解除を受けてください。")
                           if password() else
                           _("利用者証明用電子証明書の暗証番号がロックされています。お住まいの市区町村の窓口でロックの解除を受けてください。"))
        except (apdu.CardError, CeremonyRefused):
            messages.error(request, _("カードを読み取れませんでした。もう一度お試しください。"))
        else:
            try:
                services.complete(ceremony_id, body, path="demo-virtual-card")
            except errors.CeremonyError:
                pass  # the waiting page shows the ceremony's failure
        return redirect("ceremonies:wait", code, ceremony_id)


CARD_PATHS.register("demo-virtual-card", "DEMO ONLY: a virtual card of `madoguchi demo` read in the page")(
    DemoVirtualCard())
