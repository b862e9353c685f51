"""The `national-app` card path: on the waiting page, 「スマートフォンで読み取る」 sends the
browser to the national authentication app (デジタル認証アプリ), which reads the card by NFC
on the phone; its answer comes back to natapp's callback and completes the ceremony."""

from madoguchi.ceremonies.cardpaths import CARD_PATHS, CardPath

from . import services


class NationalApp(CardPath):
    template = "natapp/cardpath.html"
    label = "デジタル認証アプリ（スマートフォンで読み取り）"

    def offered(self, request, ceremony) -> bool:
        return ceremony.purpose in services.SCOPES and ceremony.status == "open" and services.configured()

    def form_action_origins(self, request, ceremony) -> tuple[str, ...]:
        return services.provider_origins(request)


CARD_PATHS.register("national-app", "the national authentication app (デジタル認証アプリ), madoguchi as its "
                                    "OpenID Connect relying party")(NationalApp())
