"""The services shipped with madoguchi. Importing this module registers them."""

from django.utils.translation import gettext_lazy as _

from .base import CardService, register

LIBRARY = register(CardService(
    key="library", title=_("図書館カード"),
    description=_("マイナンバーカードを図書館の利用者カードとして使えます。"),
    needs_pin=False, offline=False, data=("patron_number",), portal="library:portal",
), "library card: a pairwise patron link per library (madoguchi.library)")

TICKETS = register(CardService(
    key="tickets", title=_("チケット"),
    description=_("購入したチケットをカードに結び付け、入場口でカードをかざして入場します。"),
    needs_pin=False, offline=True, data=("ticket",),
), "tickets bound to the card, admitted once at the gate without PIN")

ATTENDANCE = register(CardService(
    key="attendance", title=_("出欠の記録"),
    description=_("講座や検診などの出席をカードで記録します。"),
    needs_pin=False, offline=True, data=("attendance",),
), "attendance recorded at a terminal")

SEAL = register(CardService(
    key="seal", title=_("印鑑登録証"),
    description=_("マイナンバーカードを印鑑登録証として使えます。"),
    needs_pin=False, offline=False, data=("seal_registration",),
), "the card as the seal registration card (印鑑登録証)")

DEMO = register(CardService(
    key="demo", title=_("デモ用サービス（本番では使いません）"),
    description=_("開発用のサービスです。"),
    needs_pin=False, offline=True, demo=True,
), "a development stand-in: does nothing")
