"""The resident's form (procedures/forms.py): what a resident types is normalised before it
is validated, conditional fields count only while their condition holds, repeatable groups
start with one block and grow by 「追加」, and the error summary lists every problem in the
form's order with a link to its input."""

import copy

import pytest
from django.http import QueryDict

from madoguchi.procedures import forms
from madoguchi.procedures.definition import data_errors, prune_hidden
from madoguchi.procedures.services import catalog_dir
from tests.applications.helpers import synthetic_number

from .test_definitions import CATALOG, TODAY

TEL = "^0[0-9]{1,4}-?[0-9]{1,4}-?[0-9]{3,4}$"
POSTAL = "^[0-9]{3}-?[0-9]{4}$"
KANA = "^[ぁ-ゖァ-ヺー・　 ]+$"


def post(**values) -> QueryDict:
    q = QueryDict(mutable=True)
    for name, value in values.items():
        if isinstance(value, list):
            q.setlist(name, value)
        else:
            q[name] = value
    return q


@pytest.mark.parametrize("typed", ["０３－１２３４－５６７８", "03ー1234ー5678", "03‐1234‐5678", "03−1234−5678",
                                   "03–1234–5678", " 03-1234-5678 ", "03(1234)5678", "０３（１２３４）５６７８"])
def test_phone_numbers_in_any_width_and_hyphen_become_ascii(typed):
    assert forms.normalize("code", typed, TEL) == "03-1234-5678"


def test_spaces_in_a_phone_number_are_dropped_and_a_postal_code_loses_its_mark():
    assert forms.normalize("code", "03 1234　5678", TEL) == "0312345678"
    assert forms.normalize("code", "〒１００ー０００１", POSTAL) == "100-0001"
    assert forms.normalize("code", "１００　０００１", POSTAL) == "1000001"
    assert forms.normalize("code", "０００１", "^[0-9]{4}$") == "0001"
    assert forms.normalize("code", "123-4567", "^[0-9]{7}$") == "1234567"  # the pattern takes no hyphen


@pytest.mark.parametrize("typed", ["１２３４　５６７８　９０１２", "1234-5678-9012", "1234－5678－9012",
                                   "1234−5678−9012", "1234ー5678ー9012", "1234 5678 9012", "123456789012"])
def test_individual_numbers_lose_separators_and_width(typed):
    assert forms.normalize("mynumber", typed) == "123456789012"


def test_kana_is_full_width_with_one_full_width_space_between_words():
    assert forms.normalize("kana", "ﾏﾄﾞｸﾞﾁ ﾀﾛｳ", KANA) == "マドグチ　タロウ"
    assert forms.normalize("kana", "マドグチ　　 タロウ ", KANA) == "マドグチ　タロウ"
    assert forms.normalize("kana", "ル-シ-", KANA) == "ルーシー"  # a hyphen typed for the long-vowel mark


def test_dates_numbers_and_addresses():
    assert forms.normalize("date", "２０２６／１２／５") == "2026-12-05"
    assert forms.normalize("date", "令和8年12月5日") == "2026-12-05"
    assert forms.normalize("date", "R8.12.5") == "2026-12-05"
    assert forms.normalize("date", "2026-13-01") == "2026-13-01"  # left for the validator to refuse
    assert forms.normalize("integer", "１，０００") == "1000"
    assert forms.normalize("email", "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ") == "taro@example.jp"
    # Free text is kept as typed: a name's full-width space, an address's full-width digits.
    assert forms.normalize("text", " 窓口　太郎 ") == "窓口　太郎"
    assert forms.normalize("text", "本町１丁目２－３") == "本町１丁目２－３"


def test_a_form_typed_in_full_width_is_accepted():
    definition = CATALOG["juminhyo-copy"]
    data = forms.read(definition, post(
        applicant_name="窓口　太郎", applicant_birth_date="1980-04-01", applicant_address="東京都窓口市本町一丁目1番1号",
        phone="０３－１２３４－５６７８", scope="self", copies="２", purpose="employment", delivery="other",
        mailing_postal_code="１００ー０００１", mailing_address="東京都千代田区千代田1番1号"))
    assert data["phone"] == "03-1234-5678" and data["copies"] == 2 and data["mailing_postal_code"] == "100-0001"
    assert data_errors(definition, prune_hidden(definition, data), TODAY) == {}


def test_the_field_kinds_follow_widget_format_and_pattern():
    teate = CATALOG["jidou-teate"]
    props = teate["schema"]["properties"]
    kinds = {f["name"]: forms.kind_of(f, props[f["name"]]) for s in teate["form"]["sections"] for f in s["fields"]}
    assert kinds["phone"] == "code" and kinds["applicant_mynumber"] == "mynumber"
    assert kinds["account_holder_kana"] == "kana" and kinds["bank_code"] == "code"
    assert kinds["applicant_name"] == "text" and kinds["applicant_birth_date"] == "date"


def test_a_hidden_conditional_fields_value_is_not_kept_and_not_required():
    definition = CATALOG["juminhyo-copy"]
    base = dict(applicant_name="窓口　太郎", applicant_birth_date="1980-04-01", applicant_address="本町",
                phone="03-1234-5678", scope="self", copies="1")
    # Without JavaScript the resident typed into fields whose condition is false: ignored.
    data = prune_hidden(definition, forms.read(definition, post(
        **base, purpose="employment", purpose_other="何か", delivery="registered", mailing_address="別の所")))
    assert "purpose_other" not in data and "mailing_address" not in data
    assert data_errors(definition, data, TODAY) == {}
    # The condition holds: required, and named in the message.
    data = prune_hidden(definition, forms.read(definition, post(**base, purpose="other", delivery="other")))
    errors = data_errors(definition, data, TODAY)
    assert errors["/purpose_other"] == ["使いみち（その他）を入力してください。"]
    assert errors["/mailing_address"] == ["送付先の住所を入力してください。"]
    # A checkbox condition (配偶者がいる) in the child allowance.
    teate = CATALOG["jidou-teate"]
    assert "spouse_name" not in prune_hidden(teate, forms.read(teate, post(spouse_name="窓口　花子")))
    assert prune_hidden(teate, forms.read(teate, post(has_spouse="on", spouse_name="窓口　花子")))["spouse_name"] == "窓口　花子"


def test_conditional_fields_carry_their_condition_and_a_note_for_a_page_without_javascript():
    definition = CATALOG["juminhyo-copy"]
    form = forms.sections(definition, {}, {})
    fields = {f["name"]: f for s in form for f in s["fields"]}
    other = fields["purpose_other"]
    assert other["condition"]["field"] == "purpose" and other["condition"]["values"] == '["other"]'
    assert other["condition"]["note"] == "「使いみち」で「その他」を選んだ場合に入力してください。"
    assert other["required"]  # required when shown (the schema's if/then)
    assert other["condition"]["id"] in other["describedby"]
    spouse = {f["name"]: f for s in forms.sections(CATALOG["jidou-teate"], {}, {}) for f in s["fields"]}["spouse_name"]
    assert spouse["condition"]["values"] == '["true"]'
    assert spouse["condition"]["note"] == "「配偶者がいる」にチェックを入れた場合に入力してください。"
    assert fields["scope"]["condition"] is None


def test_every_formatted_field_has_a_hint():
    for definition in CATALOG.values():
        for section in forms.sections(definition, {}, {}):
            for field in section["fields"]:
                for f in [field] + [sub for row in field["rows"] for sub in row["fields"]]:
                    if f["widget"] in ("tel", "postal_code", "mynumber", "date", "email", "number"):
                        assert f["hint"], (definition["slug"], f["name"])
    hints = {f["name"]: f["hint"] for s in forms.sections(CATALOG["sodai-gomi"], {}, {}) for f in s["fields"]}
    assert hints["collection_date"].startswith("令和") and "までの日付を入力してください。" in hints["collection_date"]
    assert hints["small_items"] == "0から10までの数字で入力してください。"


def test_a_group_starts_with_one_block_and_grows_by_its_add_button():
    definition = CATALOG["hoikusho-nyusho"]
    children = {f["name"]: f for s in forms.sections(definition, {}, {}) for f in s["fields"]}["children"]
    assert len(children["rows"]) == 1 and children["rows"][0]["legend"] == "子 1" and children["can_add"]
    assert children["add_label"] == "子を追加"
    typed = post(**{"children-0-name": "窓口　一郎", "children-0-birth_date": "2024-06-01", "add_row": "children"})
    values = forms.group_action(definition, typed, forms.read(definition, typed))
    assert values["children"] == [{"name": "窓口　一郎", "birth_date": "2024-06-01"}, {}]
    rows = {f["name"]: f for s in forms.sections(definition, values, {}) for f in s["fields"]}["children"]["rows"]
    assert [r["legend"] for r in rows] == ["子 1", "子 2"] and rows[1]["fields"][0]["name"] == "children-1-name"
    # An ordinary POST is no action; 「削除」 drops its block, whatever the numbering left by JavaScript.
    assert forms.group_action(definition, post(), {}) is None
    removed = post(**{"children-0-name": "一郎", "children-3-name": "三郎", "children-5-name": "五郎",
                      "remove_row": "children-3"})
    assert forms.group_action(definition, removed, forms.read(definition, removed)) is not None
    assert [r["name"] for r in forms.read(definition, removed)["children"]] == ["一郎", "五郎"]
    # No more blocks than the schema's maxItems (5).
    full = {"children": [{"name": str(i)} for i in range(5)]}
    assert len(forms.group_action(definition, post(add_row="children"), full)["children"]) == 5


def test_the_summary_lists_each_problem_in_the_forms_order_linked_to_its_input():
    definition = CATALOG["hoikusho-nyusho"]
    values = {"children": [{"name": "窓口　一郎", "mynumber": synthetic_number(5)[:11]}]}
    errors = data_errors(definition, values, TODAY)
    form = forms.sections(definition, values, errors)
    problems = [(p["href"], p["text"]) for p in form.problems]
    assert problems[0] == ("#f-applicant-name", "氏名を入力してください。")
    assert ("#f-children-0-birth-date", "子の生年月日（子 1）を入力してください。") in problems
    assert ("#f-children-0-mynumber", "子の個人番号（子 1）は12桁の数字で入力してください。") in problems
    assert ("#f-reason-0", "保育を必要とする事由を選んでください。") in problems
    order = [href for href, _ in problems]
    assert order.index("#f-applicant-name") < order.index("#f-children-0-birth-date") < order.index("#f-reason-0")
    radio = forms.sections(CATALOG["juminhyo-copy"], {}, data_errors(CATALOG["juminhyo-copy"], {}, TODAY))
    assert ("#f-scope-0", "記載する人の範囲を選んでください。") in [(p["href"], p["text"]) for p in radio.problems]


def test_messages_and_hints_in_english_name_the_field_too():
    from django.utils import translation

    definition = CATALOG["hoikusho-nyusho"]
    values = {"children": [{"name": "x", "mynumber": "123"}]}
    with translation.override("en"):
        problems = [p["text"] for p in forms.sections(definition, values, data_errors(definition, values, TODAY)).problems]
        hints = {f["name"]: f["hint"] for s in forms.sections(CATALOG["sodai-gomi"], {}, {}) for f in s["fields"]}
    assert "Enter daytime phone number." in problems
    assert "Enter child's individual number (Children 1) as 12 digits." in problems
    assert hints["phone"] == "For example 03-1234-5678 (with or without hyphens)."
    assert "(Reiwa " in hints["collection_date"]


def test_procedure_eligibility_counts_the_legal_age():
    import datetime as dt

    from madoguchi.procedures.definition import eligibility_problems

    rules = {"eligibility": {"min_age": 18}}
    born = dt.date(2008, 12, 6)
    assert eligibility_problems(rules, birth_date=born, record=None, today=dt.date(2026, 12, 4))  # 17
    assert not eligibility_problems(rules, birth_date=born, record=None, today=dt.date(2026, 12, 5))  # 18: the day before
