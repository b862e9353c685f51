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
