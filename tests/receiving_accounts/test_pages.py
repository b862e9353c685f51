"""A resident registers, changes and deletes the 公金受取口座 through the portal, signed with
the card: bad input named field by field, a name mismatch held for staff, the number masked
on every page and absent from the audit trail."""

import base64
import json

from django.test import Client

from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.tenancy import tenant
from madoguchi.receiving_accounts import reading
from madoguchi.receiving_accounts.models import AccountChange, ReceivingAccount
from tests.applications.helpers import card_cms
from tests.applications.test_pages import signed_in

FORM = {"bank": "みずほ", "branch": "001", "account_type": "1", "account_number": "1234567",
        "holder_kana": "マドグチ　タロウ"}


def sign_through_the_card(client, code, card):
    """POST the confirmation, complete the `sign` ceremony as the card client does, finish."""
    opened = client.post(f"/{code}/receiving-account/confirm/")
    assert opened.status_code == 302 and "/ceremony/" in opened["Location"], opened
    ceremony_id = opened["Location"].rstrip("/").rsplit("/", 1)[1]
    reader = Client()
    description = reader.get(f"/{code}/api/ceremonies/{ceremony_id}").json()
    assert description["purpose"] == "sign" and description["reason"] == "公金受取口座の登録"
    document = base64.urlsafe_b64decode(description["document"]["content"] + "==")
    cms = card_cms(card, document, ceremony_id, base64.urlsafe_b64decode(description["challenge"] + "=="),
                   description["audience"])
    done = reader.post(f"/{code}/api/ceremonies/{ceremony_id}/complete",
                       json.dumps({"audience": description["audience"],
                                   "cms": base64.urlsafe_b64encode(cms).decode().rstrip("=")}),
                       content_type="application/json")
    assert done.status_code == 200, done.content
    finish = client.get(f"/{code}/ceremony/{ceremony_id}/finish/")
    assert finish.status_code == 302 and finish["Location"].endswith("/receiving-account/signed/")
    return client.get(finish["Location"]), document


def test_register_change_and_delete(client, muni_a, taro, pki):
    code = muni_a.code
    signed_in(client, muni_a, taro)
    assert "登録している口座はありません" in client.get(f"/{code}/receiving-account/").content.decode()
    made = client.post(f"/{code}/receiving-account/edit/", FORM)
    assert made.status_code == 302 and made["Location"].endswith("/confirm/")
    confirm = client.get(made["Location"]).content.decode()
    # Names in kanji and kana shown back; the number masked.
    assert "みずほ（ﾐｽﾞﾎ）" in confirm and "東京営業部（ﾄｳｷﾖｳ）" in confirm and "****567" in confirm
    assert "1234567" not in confirm
    stored, document = sign_through_the_card(client, code, pki.taro)
    assert stored.status_code == 302 and stored["Location"].endswith("/receiving-account/")
    assert json.loads(document)["account_number"] == "1234567"
    with tenant(muni_a):
        account = ReceivingAccount.objects.get()
    assert (account.status, account.name_check, account.source) == ("active", "match", "portal")
    assert account.holder_kana == "ﾏﾄﾞｸﾞﾁ ﾀﾛｳ" and account.person_id == taro.pk
    assert account.verification and account.document_sha256
    page = client.get(f"/{code}/receiving-account/").content.decode()
    assert "****567" in page and "1234567" not in page and "登録済み" in page
    assert "****567" in client.get(f"/{code}/account/").content.decode()

    info = reading.account_for(taro.pk, muni_a)
    assert info.usable and info.account_number == "1234567" and info.bank_kana == "ﾐｽﾞﾎ"
    assert "1234567" not in repr(info) and "1234567" not in repr(account) and "1234567" not in str(account)

    # Change: a new number, signed again; the history keeps both.
    changed = client.post(f"/{code}/receiving-account/edit/", {**FORM, "account_number": "7654321", "bank": "0005",
                                                               "branch": "001"})
    assert changed.status_code == 302
    sign_through_the_card(client, code, pki.taro)
    with tenant(muni_a):
        account = ReceivingAccount.objects.get()
        assert (account.bank_code, account.account_number) == ("0005", "7654321")
        assert list(AccountChange.objects.order_by("id").values_list("action", "account_number")) == [
            ("registered", "1234567"), ("changed", "7654321")]

    assert client.post(f"/{code}/receiving-account/delete/").status_code == 302
    with tenant(muni_a):
        assert not ReceivingAccount.objects.exists()
        assert AccountChange.objects.order_by("-id").first().action == "deleted"
        events = list(AccountEventData(muni_a))
    assert [e[0] for e in events] == ["receiving_accounts.registered", "receiving_accounts.changed",
                                      "receiving_accounts.deleted"]
    for _action, data in events:
        assert "1234567" not in json.dumps(data) and "7654321" not in json.dumps(data)
        assert "ﾏﾄﾞｸﾞﾁ" not in json.dumps(data, ensure_ascii=False)
    assert reading.account_for(taro.pk, muni_a) is None


def AccountEventData(municipality):
    for e in AuditEvent.objects.filter(municipality=municipality, action__startswith="receiving_accounts.").order_by("seq"):
        yield e.action, e.data


def test_a_name_that_does_not_match_is_held_for_staff(client, muni_a, taro, pki):
    code = muni_a.code
    signed_in(client, muni_a, taro)
    assert client.post(f"/{code}/receiving-account/edit/", {**FORM, "holder_kana": "マドグチ ハナコ"}).status_code == 302
    stored, _document = sign_through_the_card(client, code, pki.taro)
    with tenant(muni_a):
        account = ReceivingAccount.objects.get()
    assert (account.status, account.name_check) == ("held", "mismatch")
    assert "職員確認中" in client.get(stored["Location"]).content.decode()
    info = reading.account_for(taro.pk, muni_a)
    assert info is not None and not info.usable


def test_bad_input_names_the_field(client, muni_a, taro):
    code = muni_a.code
    signed_in(client, muni_a, taro)
    cases = [
        ({"bank": "0002"}, "bank", "コード「0002」の金融機関は見つかりません"),
        ({"bank": "存在しない銀行"}, "bank", "に当たる金融機関は見つかりません"),
        ({"bank": "0001", "branch": "999"}, "branch", "コード「999」の支店は見つかりません"),
        ({"account_number": "123456"}, "account_number", "7桁の数字で入力してください（6桁でした）"),
        ({"account_number": "12345678"}, "account_number", "（8桁でした）"),
        ({"account_number": "12a4567"}, "account_number", "数字だけで"),
        ({"holder_kana": "窓口 太郎"}, "holder_kana", "「窓」（1文字目）"),
        ({"holder_kana": "ジョン・スミス"}, "holder_kana", "「・」（4文字目）"),
        ({"account_type": "9"}, "account_type", "預金種目"),
    ]
    for changes, field, words in cases:
        response = client.post(f"/{code}/receiving-account/edit/", {**FORM, **changes})
        assert response.status_code == 400, changes
        body = response.content.decode()
        assert words in body, (changes, body[:3000])
        assert f'id="f-{field}"' in body and 'aria-invalid="true"' in body
    with tenant(muni_a):
        assert not ReceivingAccount.objects.exists()
    # A name matching several banks lists them to choose from.
    several = client.post(f"/{code}/receiving-account/edit/", {**FORM, "bank": "三井"}).content.decode()
    assert "候補から選んでください" in several and 'name="bank" value="' in several
    # Full-width digits and a 3-digit branch without leading zeros are accepted.
    ok = client.post(f"/{code}/receiving-account/edit/", {**FORM, "bank": "９９００", "branch": "18",
                                                          "account_number": "１２３４５６７"})
    assert ok.status_code == 302


def test_nothing_without_a_signature_or_for_another_person(client, muni_a, taro, hanako, pki):
    code = muni_a.code
    signed_in(client, muni_a, taro)
    client.post(f"/{code}/receiving-account/edit/", FORM)
    # Continuing without a completed ceremony stores nothing.
    assert client.get(f"/{code}/receiving-account/signed/").status_code == 302
    with tenant(muni_a):
        assert not ReceivingAccount.objects.exists()
    # Signed with another resident's card: refused.
    response, _document = sign_through_the_card(client, code, pki.hanako)
    assert response.status_code == 403
    with tenant(muni_a):
        assert not ReceivingAccount.objects.exists()
    # Anonymous visitors are sent to sign in.
    anonymous = Client().get(f"/{code}/receiving-account/")
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]
