"""Fees: the definition's fee rule (per copy, postage, free) as lines, the one source of the
amount shown before signing, on the payment page and charged."""

import copy
import json
import re

from madoguchi.applications.services import save_draft
from madoguchi.municipalities.tenancy import tenant
from madoguchi.payments.models import Payment
from madoguchi.procedures.definition import definition_errors, fee_lines, fee_yen
from madoguchi.procedures.services import catalog_dir
from tests.applications.conftest import version_of
from tests.applications.test_pages import signed_in

from .conftest import sodai


def sodai_definition():
    return json.loads((catalog_dir() / "sodai-gomi.json").read_text())


def test_postage_is_a_line_and_part_of_the_amount():
    d = sodai_definition()
    d["fee"]["postage"] = {"yen": 140, "field": "items", "equals": "mail"}
    assert definition_errors(d) == []
    data = {"small_items": 2, "large_items": 0, "items": "mail"}
    lines = fee_lines(d, data)
    assert [(line["kind"], line["subtotal"]) for line in lines] == [("copy", 800), ("postage", 140)]
    assert fee_yen(d, data) == 940 == sum(line["subtotal"] for line in lines)
    assert fee_yen(d, {**data, "items": "counter"}) == 800  # not by post: no postage
    assert fee_yen(d, {"small_items": 0, "items": "mail"}) == 0  # nothing asked for: nothing to post
    always = copy.deepcopy(d)
    always["fee"]["postage"] = {"yen": 84}
    assert fee_yen(always, {"small_items": 1}) == 484


def test_postage_rules_are_checked_and_old_definitions_stay_valid():
    d = sodai_definition()
    assert definition_errors(d) == []  # no postage: as before
    d["fee"]["postage"] = {"yen": 140, "field": "nowhere", "equals": "mail"}
    assert any("/fee/postage/field" in e for e in definition_errors(d))
    d["fee"]["postage"] = {"yen": 140, "field": "items"}
    assert any("field and equals together" in e for e in definition_errors(d))
    d["fee"]["postage"] = {"yen": -1}
    assert definition_errors(d)
    free = {**d, "fee": {"kind": "none", "postage": {"yen": 84}}}
    assert any("free procedure" in e for e in definition_errors(free))
    for path in catalog_dir().glob("*.json"):  # every shipped definition is still valid
        assert definition_errors(json.loads(path.read_text())) == [], path.name


def total_of(html: str) -> int:
    return sum(int(x.replace(",", "")) for x in re.findall(r"= ([\d,]+)円", html))


def test_the_breakdown_before_signing_is_the_amount_charged(client, catalog_a, taro):
    code = catalog_a.code
    draft = save_draft(version_of(catalog_a, "sodai-gomi"), taro, sodai(small_items=3, large_items=2))
    signed_in(client, catalog_a, taro)
    review = client.get(f"/{code}/applications/{draft.public_id}/review/").content.decode()
    assert "小型: 400円 × 3 = 1,200円" in review and "大型: 1,200円 × 2 = 2,400円" in review
    assert "3,600円" in review and total_of(review) == 3600
    submitted = client.post(f"/{code}/applications/{draft.public_id}/review/")
    assert submitted.status_code == 302
    pay_page = client.get(f"/{code}/applications/{draft.public_id}/pay/").content.decode()
    assert total_of(pay_page) == 3600 and "3,600円" in pay_page
    client.post(f"/{code}/applications/{draft.public_id}/pay/")
    with tenant(catalog_a):
        assert Payment.objects.get(application_id=draft.pk).amount_yen == 3600


def with_exemption():
    d = sodai_definition()
    d["schema"]["properties"]["fee_exemption"] = {"type": "string", "enum": ["", "seikatsu_hogo"]}
    d["form"]["sections"][1]["fields"].append({
        "name": "fee_exemption", "label": {"ja": "手数料免除", "en": "Fee exemption"}, "widget": "select",
        "choices": [{"value": "", "label": {"ja": "申請しない", "en": "None"}},
                    {"value": "seikatsu_hogo", "label": {"ja": "生活保護受給", "en": "Public assistance"}}]})
    d["one_open_per"] = "none"  # two applications of one household in the tests below
    d["fee"]["exemption"] = {"field": "fee_exemption", "reasons": [
        {"code": "seikatsu_hogo", "label": {"ja": "生活保護受給", "en": "Public assistance"}}]}
    return d


def test_exemption_rules_are_checked():
    d = with_exemption()
    assert definition_errors(d) == []
    bad = copy.deepcopy(d)
    bad["schema"]["properties"]["fee_exemption"]["enum"].append("other")
    assert any("not reasons" in e for e in definition_errors(bad))
    bad = copy.deepcopy(d)
    bad["fee"]["exemption"]["field"] = "small_items"
    assert any("string property" in e for e in definition_errors(bad))


def test_a_claimed_exemption_skips_payment_and_a_refused_one_puts_it_back(client, catalog_a, taro, hanako, cashier):
    """The rule: a claimed exemption → submitted without a fee (no 支払い待ち), checked by the
    department's reviewer; not accepted → 支払い待ち with the fee before the exemption."""
    from madoguchi.applications.models import Application
    from madoguchi.applications.services import submit
    from madoguchi.procedures.services import install
    from tests.applications.helpers import key
    from tests.conftest import sign_in

    version, _changed = install(catalog_a, with_exemption())
    code = catalog_a.code
    draft = save_draft(version, taro, sodai(fee_exemption="seikatsu_hogo"))
    signed_in(client, catalog_a, taro)
    review = client.get(f"/{code}/applications/{draft.public_id}/review/").content.decode()
    assert "手数料免除（生活保護受給）: −1,600円" in review and "合計 <strong class=\"fee-total\">0円" in review
    application, _ = submit(version, taro, sodai(fee_exemption="seikatsu_hogo"), idempotency_key=key())
    assert application.status == "submitted" and application.fee_yen == 0
    client.logout()
    user, device = cashier  # a reviewer of 環境課
    assert sign_in(client, catalog_a, user, device).status_code == 302
    page = client.get(f"/{code}/staff/applications/{application.public_id}/").content.decode()
    assert 'id="fee-exemption"' in page and "生活保護受給" in page and "手数料免除を認めない" in page
    url = f"/{code}/staff/applications/{application.public_id}/transition/"
    missing = client.post(url, {"target": "payment_required", "comment": ""})
    assert missing.status_code == 400
    assert client.post(url, {"target": "payment_required", "comment": "受給証明を確認できません"}).status_code == 302
    with tenant(catalog_a):
        application = Application.objects.get(pk=application.pk)
    assert application.status == "payment_required" and application.fee_yen == 1600
    # Without a claim: 支払い待ち at once, as before.
    plain, _ = submit(version, hanako, sodai(fee_exemption=""), idempotency_key=key())
    assert plain.status == "payment_required" and plain.fee_yen == 1600


def test_a_reviewer_cannot_send_an_application_without_a_claim_back_to_payment(catalog_a, taro, cashier):
    import pytest

    from madoguchi.applications.services import submit, transition
    from madoguchi.applications.statemachine import TransitionRefused
    from madoguchi.procedures.services import install
    from tests.applications.helpers import key

    version, _changed = install(catalog_a, with_exemption())
    free = copy.deepcopy(with_exemption())  # a claim on a procedure whose data costs nothing
    application, _ = submit(version, taro, sodai(fee_exemption="seikatsu_hogo", small_items=0, large_items=0),
                            idempotency_key=key())
    assert application.status == "submitted"
    with pytest.raises(TransitionRefused):  # nothing to pay: it cannot wait for a payment
        transition(application, "payment_required", role="reviewer", actor=cashier[0])
    assert free["fee"]["exemption"]
