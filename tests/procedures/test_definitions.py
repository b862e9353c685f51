"""The definition format: the meta-schema, consistency checks, data validation and fees."""

import copy
import datetime as dt
import json

import pytest

from madoguchi.procedures.definition import (
    data_errors, definition_errors, eligibility_problems, fee_yen, is_open, mynumber_pointers, prune_hidden,
)
from madoguchi.core.dates import format_legal_date
from madoguchi.procedures.services import catalog_dir
from tests.applications.helpers import synthetic_number, wrong_check_digit

CATALOG = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(catalog_dir().glob("*.json"))}
VALID_NUMBER = synthetic_number(1)  # made at run time: no individual number is committed
WRONG_NUMBER = wrong_check_digit(synthetic_number(2))
TODAY = dt.date(2026, 11, 26)


def juminhyo():
    return copy.deepcopy(CATALOG["juminhyo-copy"])


def juminhyo_data(**changes):
    data = {"applicant_name": "窓口　太郎", "applicant_birth_date": "1980-04-01",
            "applicant_address": "東京都窓口市本町一丁目1番1号", "phone": "03-0000-0000", "scope": "self",
            "copies": 2, "purpose": "employment", "delivery": "registered"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_the_catalog_has_ten_valid_procedures_with_distinct_slugs():
    assert len(CATALOG) >= 10
    for slug, definition in CATALOG.items():
        assert definition["slug"] == slug
        assert definition_errors(definition) == [], slug
    assert {"juminhyo-copy", "koseki-certificate", "tenshutsu", "jidou-teate", "hoikusho-nyusho", "sodai-gomi",
            "toshokan-riyou", "inkan-touroku", "risai-shoumei", "zaigai-senkyo"} <= set(CATALOG)


def test_my_number_fields_only_in_the_my_number_tasks():
    with_numbers = {slug for slug, d in CATALOG.items() if "mynumber_task" in d}
    assert with_numbers == {"jidou-teate", "hoikusho-nyusho"}


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d.pop("title"), "'title' is a required property"),
    (lambda d: d.update(assurance="maybe"), "/assurance"),
    (lambda d: d.update(retention="forever"), "/retention"),
    (lambda d: d["title"].pop("en"), "/title"),
    (lambda d: d.update(slug="Bad Slug"), "/slug"),
    (lambda d: d.update(unknown_key=1), "unknown_key"),
    (lambda d: d["fee"].pop("items"), "/fee"),
    (lambda d: d["schema"]["properties"].update(extra={"type": "string"}), "/schema/properties/extra: no form field"),
    (lambda d: d["form"]["sections"][0]["fields"].append({"name": "ghost", "label": {"ja": "幽霊", "en": "Ghost"}}),
     "no property 'ghost'"),
    (lambda d: d["schema"]["properties"]["scope"].update(enum=["self", "household", "other"]), "choices and the schema's enum differ"),
    (lambda d: d["schema"]["properties"].update(copies={"type": "string"}), "must be an integer property"),
    (lambda d: d["schema"]["properties"]["copies"].update(type=12), "not a valid JSON Schema"),
    (lambda d: d.update(open_period={"from": "2026-05-01", "until": "2026-04-01"}), "from is after until"),
    (lambda d: d.update(open_period={"from": "2026-02-30"}), "is not a date"),
    (lambda d: d["form"]["sections"][1]["fields"][4].update(show_if={"field": "nope", "equals": 1}), "unknown field 'nope'"),
    (lambda d: d["export"].append({"column": "x", "pointer": "/nope"}), "'nope' is not a property"),
    (lambda d: d["schema"]["properties"]["phone"].update(format="jp-individual-number"), "only in a legal My Number task"),
    (lambda d: d.update(household_selection=True), "household_members"),
    (lambda d: d.update(date_rules=[{"field": "copies", "min_days": 0}]), "format date"),
])
def test_a_bad_definition_says_why(mutate, expected):
    definition = juminhyo()
    mutate(definition)
    errors = definition_errors(definition)
    assert errors, "expected the definition to be refused"
    assert any(expected in e for e in errors), errors


def test_lone_surrogates_are_named_in_values_and_keys():
    definition = juminhyo()
    definition["title"]["ja"] = "住民票\ud800"
    definition["description"]["\udc00"] = "x"
    errors = definition_errors(definition)
    assert errors == ["/title/ja: a lone surrogate (an unpaired \\uD800-\\uDFFF escape) cannot be stored",
                      "/description/\ufffd: a lone surrogate (an unpaired \\uD800-\\uDFFF escape) cannot be stored"]


def test_not_an_object_and_oversized_are_refused():
    assert definition_errors([]) == ["/: a definition is a JSON object"]
    huge = juminhyo()
    huge["description"]["ja"] = "あ" * 2000
    huge["keywords"] = ["x" * 40] * 20000
    assert "at most" in definition_errors(huge)[0]


def test_my_number_fields_are_never_exported():
    definition = copy.deepcopy(CATALOG["jidou-teate"])
    definition["export"].append({"column": "個人番号", "pointer": "/applicant_mynumber"})
    assert any("never exported" in e for e in definition_errors(definition))
    definition = copy.deepcopy(CATALOG["jidou-teate"])
    definition["export"].append({"column": "子", "pointer": "/children"})
    assert any("never exported" in e for e in definition_errors(definition))


def test_my_number_task_without_a_number_field_is_refused():
    definition = juminhyo()
    definition["mynumber_task"] = {"legal_basis": {"ja": "番号法", "en": "My Number Act"}}
    assert any("no field has format" in e for e in definition_errors(definition))


def test_valid_data_has_no_errors_and_the_fee_is_per_copy():
    definition = juminhyo()
    assert data_errors(definition, juminhyo_data(), TODAY) == {}
    assert fee_yen(definition, juminhyo_data(copies=3)) == 900


def test_field_level_messages_in_japanese():
    definition = juminhyo()
    errors = data_errors(definition, juminhyo_data(copies=0, scope="all", phone="abc", applicant_name=None), TODAY)
    assert errors["/copies"] == ["通数は1以上の数を入力してください。"]
    assert errors["/scope"] == ["記載する人の範囲は選択肢から選んでください。"]
    assert errors["/phone"] == ["日中の連絡先電話番号は、03-1234-5678 のように数字で入力してください。"]
    assert errors["/applicant_name"] == ["氏名を入力してください。"]
    missing = data_errors(definition, juminhyo_data(scope=None, phone=None), TODAY)
    assert missing["/phone"] == ["日中の連絡先電話番号を入力してください。"]
    assert missing["/scope"] == ["記載する人の範囲を選んでください。"]
    assert data_errors(definition, juminhyo_data(unexpected="x"), TODAY) == {"/unexpected": ["この手続きにない項目です。"]}
    assert data_errors(definition, "not an object", TODAY) == {"/": ["入力の形式が正しくありません。"]}


def test_conditional_fields_are_required_only_when_shown_and_pruned_when_hidden():
    definition = juminhyo()
    errors = data_errors(definition, juminhyo_data(delivery="other"), TODAY)
    assert set(errors) == {"/mailing_address", "/mailing_postal_code"}
    data = juminhyo_data(delivery="registered", mailing_address="どこか")
    assert "mailing_address" not in prune_hidden(definition, data)
    assert prune_hidden(definition, juminhyo_data(delivery="other", mailing_address="別の所"))["mailing_address"] == "別の所"


def test_koseki_fees_add_up_per_kind():
    definition = CATALOG["koseki-certificate"]
    assert fee_yen(definition, {"copies_koseki": 2, "copies_joseki": 1, "copies_kaisei": 0}) == 2 * 450 + 750
    assert fee_yen(definition, {"copies_koseki": True}) == 0  # a boolean is not a count
    assert fee_yen(CATALOG["inkan-touroku"], {}) == 300
    assert fee_yen(CATALOG["tenshutsu"], {}) == 0


def test_moving_out_window_is_30_days_before_to_10_days_after():
    definition = CATALOG["tenshutsu"]
    base = {"applicant_name": "窓口　太郎", "applicant_birth_date": "1980-04-01", "applicant_address": "東京都窓口市本町一丁目1番1号",
            "phone": "03-0000-0000", "new_postal_code": "100-0001", "new_address": "東京都千代田区千代田1番1号",
            "new_municipality": "千代田区", "movers": ["100001"], "visit_date": "2026-12-10"}
    for days, ok in [(-10, True), (-11, False), (30, True), (31, False), (0, True)]:
        data = {**base, "move_date": (TODAY + dt.timedelta(days=days)).isoformat()}
        errors = data_errors(definition, data, TODAY)
        assert ("/move_date" not in errors) is ok, (days, errors)
    errors = data_errors(definition, {**base, "move_date": "2026-13-01"}, TODAY)
    assert errors["/move_date"] == ["引越しの日（予定日）を正しい日付で入力してください。"]
    # The limits are shown as 和暦 dates with the Western year, never as ISO dates.
    late = data_errors(definition, {**base, "move_date": (TODAY + dt.timedelta(days=31)).isoformat()}, TODAY)
    latest = TODAY + dt.timedelta(days=30)
    assert late["/move_date"] == [f"引越しの日（予定日）は{format_legal_date(latest)}以前の日付にしてください。"]
    early = data_errors(definition, {**base, "move_date": (TODAY - dt.timedelta(days=11)).isoformat()}, TODAY)
    assert early["/move_date"][0].startswith("引越しの日（予定日）は令和") and "以降の日付にしてください。" in early["/move_date"][0]


def test_individual_numbers_are_check_digit_validated_and_never_echoed():
    definition = CATALOG["jidou-teate"]
    data = {"applicant_mynumber": WRONG_NUMBER, "children": [{"name": "子", "birth_date": "2020-01-01",
            "relationship": "child", "mynumber": VALID_NUMBER, "living_together": True}]}
    errors = data_errors(definition, data, TODAY)
    # 12 digits whose check digit (the last of the twelve) does not match the first eleven
    assert errors["/applicant_mynumber"] == ["請求者の個人番号が正しくありません。12桁の最後の1桁（検査用数字）が合いません。"
                                             "マイナンバーカードで番号を確かめてください。"]
    short = data_errors(definition, {**data, "applicant_mynumber": VALID_NUMBER[:11]}, TODAY)
    assert short["/applicant_mynumber"] == ["請求者の個人番号は12桁の数字で入力してください。"]
    child = data_errors(definition, {**data, "children": [{**data["children"][0], "mynumber": WRONG_NUMBER}]}, TODAY)
    assert child["/children/0/mynumber"][0].startswith("子の個人番号（子 1）が正しくありません。")
    assert "/children/0/mynumber" not in errors
    assert WRONG_NUMBER not in json.dumps(errors, ensure_ascii=False)
    assert sorted(mynumber_pointers(definition["schema"], data)) == ["/applicant_mynumber", "/children/0/mynumber"]


def test_open_period_and_eligibility():
    definition = juminhyo()
    assert is_open(definition, TODAY)
    definition["open_period"] = {"from": "2026-12-01", "until": "2027-01-31"}
    assert not is_open(definition, TODAY) and is_open(definition, dt.date(2026, 12, 1))
    assert not is_open(definition, dt.date(2027, 2, 1))

    class Record:
        status = "resident"
        is_household_head = False

    assert eligibility_problems(definition, birth_date=dt.date(1980, 4, 1), record=Record(), today=TODAY) == []
    assert eligibility_problems(definition, birth_date=dt.date(1980, 4, 1), record=None, today=TODAY)
    assert eligibility_problems(definition, birth_date=dt.date(2012, 11, 27), record=Record(), today=TODAY) == [
        "この手続きは15歳以上の方が対象です。"]
    assert eligibility_problems(definition, birth_date=dt.date(2011, 11, 26), record=Record(), today=TODAY) == []
    head = {"eligibility": {"household_head": True}}
    assert eligibility_problems(head, birth_date=None, record=Record(), today=TODAY) == ["この手続きは世帯主の方が対象です。"]
