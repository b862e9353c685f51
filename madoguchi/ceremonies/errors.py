"""Every way a ceremony can fail: a machine-readable code, an HTTP status, and a message
for the resident in Japanese and English. docs/ceremony.md lists them."""

from dataclasses import dataclass

from madoguchi.pki.validation import MESSAGES, Verdict


@dataclass
class CeremonyError(Exception):
    code: str
    status: int
    message_ja: str
    message_en: str
    consumes: bool = False  # the ceremony is left unusable (replay would otherwise be possible)

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message_ja, "message_en": self.message_en}


def not_found() -> CeremonyError:
    return CeremonyError("not_found", 404, "この手続きは見つかりません。最初からやり直してください。",
                         "This ceremony does not exist. Please start again.")


def expired() -> CeremonyError:
    return CeremonyError("expired", 410, "有効時間（5分）を過ぎました。最初からやり直してください。",
                         "The ceremony has expired (5 minutes). Please start again.")


def already_used() -> CeremonyError:
    return CeremonyError("already_used", 409, "この手続きはすでに使われています。最初からやり直してください。",
                         "This ceremony has already been used. Please start again.")


def wrong_audience() -> CeremonyError:
    return CeremonyError("wrong_audience", 400, "別のサービス宛ての手続きです。表示されている依頼元を確認してください。",
                         "This ceremony is for another service. Check who is asking.", consumes=True)


def wrong_ceremony() -> CeremonyError:
    return CeremonyError("wrong_ceremony", 400, "署名が別の手続きのものです。最初からやり直してください。",
                         "The signature belongs to another ceremony. Please start again.", consumes=True)


def malformed(detail: str = "") -> CeremonyError:
    return CeremonyError("malformed", 400, "送られた内容を読み取れませんでした。もう一度カードを読み取ってください。",
                         f"The request could not be read{': ' + detail if detail else ''}.")


def unknown_card() -> CeremonyError:
    return CeremonyError("unknown_card", 403,
                         "このカードはまだ登録されていません。はじめに「本人確認」（署名用パスワード）でログインしてください。",
                         "This card is not registered yet. Please sign in once with identity verification "
                         "(signature password).", consumes=True)


def card_mismatch() -> CeremonyError:
    return CeremonyError("card_mismatch", 403,
                         "利用者証明用と署名用の電子証明書が同じカードのものと確認できませんでした。"
                         "1枚のカードで読み取り直すか、お住まいの市区町村の窓口にお問い合わせください。",
                         "The authentication and signature certificates could not be confirmed as one card's. "
                         "Read a single card again, or contact your municipal office.", consumes=True)


def card_refused() -> CeremonyError:
    return CeremonyError("card_refused", 403,
                         "このカードの電子証明書は、2枚のカードを組み合わせた本人確認に使われたため利用を停止しています。"
                         "お住まいの市区町村の窓口にお問い合わせください。",
                         "This card's certificate was offered in an identity verification that combined two cards "
                         "and is suspended. Please contact your municipal office.", consumes=True)


def card_required() -> CeremonyError:
    return CeremonyError("card_required", 403,
                         "この手続きにはマイナンバーカードが必要です。スマートフォン用電子証明書は使えません。",
                         "This procedure needs the My Number Card itself; a smartphone certificate cannot be used.",
                         consumes=True)


def path_not_enabled() -> CeremonyError:
    return CeremonyError("path_not_enabled", 403, "この読み取り方法は、この自治体では利用できません。",
                         "This way of reading the card is not offered by this municipality.")


def provider_refused(detail: str = "") -> CeremonyError:
    """The national authentication app (or its answer) could not be trusted or used."""
    return CeremonyError("provider_refused", 400,
                         "デジタル認証アプリでの確認ができませんでした。最初からやり直してください。",
                         f"The digital authentication app's answer was refused{': ' + detail if detail else ''}. "
                         "Please start again.", consumes=True)


def provider_unavailable(detail: str = "") -> CeremonyError:
    return CeremonyError("provider_unavailable", 503,
                         "デジタル認証アプリのサービスに接続できませんでした。しばらくしてからやり直してください。",
                         f"The digital authentication app's service could not be reached"
                         f"{': ' + detail if detail else ''}. Please try again later.", consumes=True)


def cancelled() -> CeremonyError:
    return CeremonyError("cancelled", 400, "デジタル認証アプリでの操作が取り消されました。",
                         "The operation was cancelled in the digital authentication app.", consumes=True)


def forbidden() -> CeremonyError:
    return CeremonyError("forbidden", 403, "この手続きを確認する権限がありません。",
                         "You may not watch this ceremony.")


def rate_limited() -> CeremonyError:
    return CeremonyError("rate_limited", 429, "短時間に操作が集中しています。しばらく待ってからやり直してください。",
                         "Too many requests. Please wait a moment and try again.")


# A certificate or signature verdict from the PKI layer → the ceremony's error.
VERDICT_CODES = {
    Verdict.EXPIRED: ("certificate_expired", 403),
    Verdict.NOT_YET_VALID: ("certificate_not_yet_valid", 403),
    Verdict.REVOKED: ("certificate_revoked", 403),
    Verdict.UNTRUSTED: ("certificate_untrusted", 403),
    Verdict.WRONG_PURPOSE: ("wrong_certificate_purpose", 400),
    Verdict.MALFORMED: ("malformed_certificate", 400),
    Verdict.REVOCATION_UNKNOWN: ("revocation_unknown", 503),
    Verdict.BAD_SIGNATURE: ("bad_signature", 400),
}


def from_verdict(verdict: Verdict) -> CeremonyError:
    code, status = VERDICT_CODES[verdict]
    ja, en = MESSAGES[verdict]
    return CeremonyError(code, status, ja, en, consumes=True)
