"""The procedure builder: every form round-trips every catalog definition unchanged; edits
change only their element; problems are Japanese and name the field; the pages work with
plain POSTs (no JavaScript), keep the rights, and publishing waits for a clean definition."""

import copy
import json
import re

import pytest

from madoguchi.procedures import builder
from madoguchi.procedures import builder_views as views
from madoguchi.procedures.editor import own_errors as definition_errors
from madoguchi.procedures.services import catalog_dir
from tests.procedures.test_editor_views import (BASE, admin, catalog, departments, new, only_version,  # noqa: F401
                                                reviewer)

CATALOG = sorted(p.name for p in catalog_dir().glob("*.json"))


def load(name):
    return json.loads((catalog_dir() / name).read_text(encoding="utf-8"))


def post_data(initial: dict, prefix: str = "") -> dict:
    """What a browser sends for a form showing `initial` (a check box unticked is absent)."""
    data = {}
    for key, value in initial.items():
        name = f"{prefix}-{key}" if prefix else key
        if value is None or value is False:
            continue
        if value is True:
            data[name] = "on"
        elif isinstance(value, list):
            data[name] = value
        else:
            data[name] = str(value)
    return data


def formset_data(rows: list[dict], prefix: str, extra_keys=()) -> dict:
    data = {f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": str(len(rows)),
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}
    for i, row in enumerate(rows):
        data.update(post_data(row, f"{prefix}-{i}"))
    return data


def places(d):
    for i, s in enumerate(d["form"]["sections"]):
        for j, f in enumerate(s["fields"]):
            yield (i, j)
            for k, _g in enumerate(f.get("fields", [])):
                yield (i, j, k)


def saved_through_the_field_form(d, place):
    initial = builder.field_initial(d, place)
    conditions = builder.condition_choices(d, place)
    if initial["condition"] and initial["condition"] not in {k for k, _l in conditions}:
        conditions.append((initial["condition"], initial["condition"]))
    taken = builder.all_names(d)
    form = views.FieldForm(post_data({k: v for k, v in initial.items() if k != "choices"}), initial=initial,
                           conditions=conditions, taken=taken)
    choices = views.ChoiceFormSet(formset_data(initial["choices"], "ch"), initial=initial["choices"], prefix="ch")
    assert form.is_valid(), (place, form.errors)
    assert choices.is_valid(), (place, choices.errors)
    values = dict(form.cleaned_data)
    values["choices"] = views._rows(choices, ("value", "label_ja", "label_en"))
    return builder.update_field(d, place, values)


@pytest.mark.parametrize("name", CATALOG)
def test_every_form_saved_unchanged_gives_the_same_definition(name):
    """Round trip on every demo definition: load → a form per element → save, untouched → identical JSON."""
    d = load(name)
    original = json.dumps(d, ensure_ascii=False, sort_keys=False)
    for place in places(d):
        assert json.dumps(saved_through_the_field_form(d, place), ensure_ascii=False) == original, place
    for i in range(len(d["form"]["sections"])):
        form = views.SectionForm(post_data(builder.section_initial(d, i)))
        assert form.is_valid()
        assert builder.update_section(d, i, form.cleaned_data) == d
    attachments = views.AttachmentsForm(post_data(builder.attachments_initial(d)))
    assert attachments.is_valid(), attachments.errors
    assert builder.update_attachments(d, attachments.cleaned_data) == d
    fee = views.FeeItemFormSet(formset_data(builder.fee_items_initial(d), "fee"), prefix="fee",
                               form_kwargs={"numbers": builder.number_fields(d)})
    assert fee.is_valid(), fee.errors
    assert builder.update_fee_items(d, views._rows(fee, ("field", "yen", "label_ja", "label_en"))) == d
    export = views.ExportFormSet(formset_data(builder.export_initial(d), "ex"), prefix="ex",
                                 form_kwargs={"places": builder.export_places(d)})
    assert export.is_valid(), export.errors
    assert builder.update_export(d, views._rows(export, ("column", "pointer"))) == d
    from madoguchi.procedures.staff_views import BasicsForm

    basics = BasicsForm(post_data(BasicsForm.initial_from(d)), departments=[(d["department"], "課")])
    assert basics.is_valid(), basics.errors
    assert json.dumps(basics.apply(d), ensure_ascii=False) == original
    assert json.dumps(d, ensure_ascii=False) == original  # nothing was changed in place either


@pytest.mark.parametrize("name", CATALOG)
def test_one_edit_changes_only_its_element(name):
    d = load(name)
    place = (0, 0)
    values = dict(builder.field_initial(d, place), label_ja="新しい名称")
    changed = builder.update_field(d, place, values)
    assert changed["form"]["sections"][0]["fields"][0]["label"]["ja"] == "新しい名称"
    changed["form"]["sections"][0]["fields"][0]["label"]["ja"] = d["form"]["sections"][0]["fields"][0]["label"]["ja"]
    assert changed == d


def test_building_a_procedure_step_by_step_without_json():
    d = {"format": 1, "slug": "new-thing", "title": {"ja": "新しい手続き", "en": "New"}, "department": "shimin",
         "legal_basis": {"ja": "条例", "en": "Ordinance"}, "retention": "5y", "assurance": "login",
         "schema": {"type": "object", "additionalProperties": False, "properties": {}}, "form": {"sections": []}}
    assert definition_errors(d)  # no section yet
    d = builder.add_section(d, "申請する人", "Applicant")
    d, name_place = builder.add_field(d, (0,), "text", "氏名")
    d = builder.update_field(d, name_place, dict(builder.field_initial(d, name_place), required=True, name="name"))
    d = builder.add_section(d, "連絡方法", "Contact")
    d, choice_place = builder.add_field(d, (1,), "radio", "連絡方法")
    problems = builder.problems(definition_errors(d), d)
    assert [(p["where"], p["message"]) for p in problems] == [
        ("セクション2『連絡方法』の項目『連絡方法』", "選択肢を1つ以上入力してください。")]
    assert problems[0]["place"] == choice_place
    d = builder.update_field(d, choice_place, dict(builder.field_initial(d, choice_place), name="contact", choices=[
        {"value": "phone", "label_ja": "電話", "label_en": "Phone"},
        {"value": "other", "label_ja": "その他", "label_en": "Other"}]))
    d, other_place = builder.add_field(d, (1,), "text", "その他の連絡方法")
    conditions = dict(builder.condition_choices(d, other_place))
    assert conditions["contact=other"] == "『連絡方法』が「その他」のとき"
    d = builder.update_field(d, other_place, dict(builder.field_initial(d, other_place), condition="contact=other"))
    assert definition_errors(d) == []
    field = d["form"]["sections"][1]["fields"][1]
    assert field["show_if"] == {"field": "contact", "equals": "other"}
    assert d["schema"]["properties"]["contact"] == {"type": "string", "enum": ["phone", "other"]}
    assert d["schema"]["required"] == ["name"]
    # Renaming a field carries its references with it.
    d = builder.update_field(d, (1, 0), dict(builder.field_initial(d, (1, 0)), name="contact_by"))
    assert d["form"]["sections"][1]["fields"][1]["show_if"]["field"] == "contact_by"
    assert definition_errors(d) == []
    # A repeatable group with its own fields.
    d, group = builder.add_field(d, (0,), "group", "子ども")
    assert builder.problems(definition_errors(d), d)[0]["message"] == "繰り返しの中に項目を1つ以上追加してください。"
    d, sub = builder.add_field(d, group, "text", "子どもの氏名")
    assert sub == (*group, 0)
    d = builder.update_field(d, sub, dict(builder.field_initial(d, sub), required=True))
    group_name = d["form"]["sections"][group[0]]["fields"][group[1]]["name"]
    assert d["schema"]["properties"][group_name]["items"]["required"] == ["field_1"]
    assert definition_errors(d) == []
    # Moving and removing.
    d = builder.move_section(d, 1, -1)
    assert d["form"]["sections"][0]["title"]["ja"] == "連絡方法"
    d = builder.remove_field(d, (0, 0))  # the choice field the condition refers to
    [problem] = builder.problems(definition_errors(d), d)
    assert problem["where"] == "セクション1『連絡方法』の項目『その他の連絡方法』"
    assert problem["message"] == "表示する条件の項目がありません。条件を選び直してください。"


def test_problems_keep_their_count_and_fall_back_to_words():
    d = load("juminhyo-copy.json")
    broken = copy.deepcopy(d)
    broken["retention"] = "forever"
    broken["form"]["sections"][0]["fields"][0]["label"]["ja"] = ""
    errors = definition_errors(broken)
    problems = builder.problems(errors, broken)
    assert len(problems) == len(errors) == 2
    assert {p["message"] for p in problems} == {"選べる値ではありません。", "入力してください。"}
    assert all(not any("a" <= ch <= "z" for ch in p["message"]) for p in problems)
    # The validator's English goes along only where the Japanese cannot say what is wrong.
    explained = {p["message"]: p["explained"] for p in problems}
    assert explained == {"入力してください。": True, "選べる値ではありません。": False}


# -- the pages ---------------------------------------------------------------------------


def test_the_pages_build_a_procedure_with_plain_posts(admin, catalog, muni_a):  # noqa: F811
    where = new(admin, "builder-pages", "blank")
    build = where + "build/"
    assert admin.post(build, {"op": "add_section", "ns-title_ja": "連絡方法", "ns-title_en": ""}).status_code == 302
    response = admin.post(build, {"op": "add_field", "section": "1", "nf1-label_ja": "連絡方法", "nf1-widget": "radio"})
    assert response.status_code == 302 and response["Location"].endswith("/fields/1/0/")
    page = admin.get(where).content.decode()
    assert "セクション2『連絡方法』の項目『連絡方法』</a>: 選択肢を1つ以上入力してください。" in page
    assert 'id="publish" disabled' in page
    assert "docs/applications.md" not in page
    assert admin.post(where + "publish/").status_code == 400  # refused by the server too
    field_page = response["Location"]
    form = admin.get(field_page).content.decode()
    assert "選択肢（日本語）" in form
    data = {"op": "field", "label_ja": "連絡方法", "label_en": "Contact", "widget": "radio", "required": "on",
            "name": "contact", **formset_data([{"label_ja": "電話", "label_en": "Phone", "value": "phone"}], "ch")}
    assert admin.post(field_page, data).status_code == 302
    page = admin.get(where).content.decode()
    assert "問題はありません。公開できます。" in page and 'id="publish" disabled' not in page
    assert '<input id="f-contact-0" type="radio" name="contact" value="phone"> 電話' in page  # the preview
    # Reordered by numbering the rows (順番), the third row first; an unnumbered row keeps its turn.
    rows = [{"label_ja": "電話", "label_en": "Phone", "value": "phone", "ORDER": "2"},
            {"label_ja": "メール", "label_en": "Mail", "value": "mail", "ORDER": ""},
            {"label_ja": "郵便", "label_en": "Post", "value": "post", "ORDER": "1"}]
    assert admin.post(field_page, {**data, **formset_data(rows, "ch")}).status_code == 302
    saved = only_version(muni_a, "builder-pages").definition["form"]["sections"][1]["fields"][0]["choices"]
    assert [c["value"] for c in saved] == ["post", "phone", "mail"]
    assert "順番" in admin.get(field_page).content.decode()
    bad = {**data, **formset_data([{**rows[0], "ORDER": "x"}], "ch")}
    assert admin.post(field_page, bad).status_code == 400
    assert [c["value"] for c in only_version(muni_a, "builder-pages").definition[
        "form"]["sections"][1]["fields"][0]["choices"]] == ["post", "phone", "mail"]
    assert admin.post(where + "publish/").status_code == 302
    assert only_version(muni_a, "builder-pages").status == "published"


def test_field_form_errors_are_named_and_nothing_is_lost(admin, catalog, muni_a):  # noqa: F811
    where = new(admin, "builder-errors", "blank")
    before = only_version(muni_a, "builder-errors").definition
    field_page = where + "fields/0/0/"
    data = {"op": "field", "label_ja": "氏名", "label_en": "Name", "widget": "radio", "name": "Bad Name",
            **formset_data([{"label_ja": "はい", "label_en": "", "value": ""}], "ch")}
    response = admin.post(field_page, data)
    body = response.content.decode()
    assert response.status_code == 400
    assert "識別名は半角英小文字で始め" in body and "選択肢「はい」の値を入力してください。" in body
    assert only_version(muni_a, "builder-errors").definition == before
    assert admin.post(where + "build/", {"op": "move_field", "section": "7", "field": "0"}).status_code == 400
    assert admin.post(where + "build/", {"op": "nothing"}).status_code == 400
    assert admin.get(where + "fields/9/0/").status_code == 404


def test_a_published_version_is_not_changed_by_the_builder(admin, catalog, muni_a):  # noqa: F811
    where = new(admin, "builder-rights", "blank")
    assert admin.post(where + "publish/").status_code == 302
    refused = admin.post(where + "build/", {"op": "add_section", "ns-title_ja": "x"})
    assert refused.status_code == 409
    assert admin.post(where + "fields/0/0/", {"op": "field"}).status_code == 409


def test_a_reviewer_edits_through_the_builder_but_not_the_json(reviewer, catalog, muni_a):  # noqa: F811
    where = new(reviewer, "builder-reviewer", "blank")
    page = reviewer.get(where).content.decode()
    assert "上級者向け" not in page and 'name="definition"' not in page
    assert reviewer.post(where, {"part": "definition", "definition": "{}"}).status_code == 403
    assert reviewer.post(where + "build/", {"op": "add_section", "ns-title_ja": "追加"}).status_code == 302
    assert only_version(muni_a, "builder-reviewer").definition["form"]["sections"][1]["title"]["ja"] == "追加"


def test_the_live_preview_draws_what_is_typed_and_saves_nothing(admin, catalog, muni_a):  # noqa: F811
    where = new(admin, "builder-live", "blank")
    before = only_version(muni_a, "builder-live").definition
    data = {"op": "preview", "label_ja": "お名前（ふりがな）", "label_en": "Name", "widget": "text", "name": "applicant_name",
            **formset_data([], "ch")}
    response = admin.post(where + "fields/0/0/", data)
    assert response.status_code == 200 and "お名前（ふりがな）" in response.content.decode()
    assert "<html" not in response.content.decode()  # the pane only
    assert only_version(muni_a, "builder-live").definition == before
    assert admin.post(where + "fields/0/0/", {**data, "name": "Bad"}).status_code == 204


def test_a_repeatable_group_through_its_pages(admin, catalog, muni_a):  # noqa: F811
    where = new(admin, "builder-group", "blank")
    response = admin.post(where + "build/", {"op": "add_field", "section": "0", "nf0-label_ja": "子ども",
                                             "nf0-widget": "group"})
    group_page = response["Location"]
    assert group_page.endswith("/fields/0/1/")
    page = admin.get(where).content.decode()
    assert "繰り返しの中に項目を1つ以上追加してください。" in page and 'id="publish" disabled' in page
    response = admin.post(group_page, {"op": "add_sub", "nf-label_ja": "子どもの氏名", "nf-widget": "text"})
    assert response.status_code == 302 and response["Location"].endswith("/fields/0/1/0/")
    sub_page = response["Location"]
    assert "子どもの氏名" in admin.get(group_page).content.decode()
    data = {"op": "field", "label_ja": "子どもの氏名", "label_en": "Child's name", "widget": "text", "required": "on",
            "name": "child_name", "max_length": "100", **formset_data([], "ch")}
    assert admin.post(sub_page, data).status_code == 302
    d = only_version(muni_a, "builder-group").definition
    group = d["form"]["sections"][0]["fields"][1]
    assert group["fields"][0]["name"] == "child_name"
    items = d["schema"]["properties"][group["name"]]["items"]
    assert items["required"] == ["child_name"] and items["properties"]["child_name"]["maxLength"] == 100
    page = admin.get(where).content.decode()
    assert "問題はありません。公開できます。" in page
    assert admin.post(group_page, {"op": "add_sub", "nf-label_ja": "入れ子", "nf-widget": "group"}).status_code == 302
    assert len(only_version(muni_a, "builder-group").definition["form"]["sections"][0]["fields"][1]["fields"]) == 1
    assert admin.post(group_page, {"op": "remove_sub", "sub": "0"}).status_code == 302
    assert only_version(muni_a, "builder-group").definition["form"]["sections"][0]["fields"][1]["fields"] == []


def test_a_condition_over_several_values_of_one_field(admin, catalog, muni_a):  # noqa: F811
    where = new(admin, "builder-multi", "blank")
    build = where + "build/"
    admin.post(build, {"op": "add_section", "ns-title_ja": "連絡", "ns-title_en": ""})
    admin.post(build, {"op": "add_field", "section": "1", "nf1-label_ja": "連絡方法", "nf1-widget": "radio"})
    admin.post(where + "fields/1/0/", {
        "op": "field", "label_ja": "連絡方法", "label_en": "Contact", "widget": "radio", "name": "contact",
        **formset_data([{"label_ja": "電話", "value": "phone"}, {"label_ja": "メール", "value": "mail"},
                        {"label_ja": "郵便", "value": "post"}], "ch")})
    admin.post(build, {"op": "add_field", "section": "1", "nf1-label_ja": "連絡先", "nf1-widget": "text"})
    field_page = where + "fields/1/1/"
    initial = builder.field_initial(only_version(muni_a, "builder-multi").definition, (1, 1))
    base = {"op": "field", **post_data({k: v for k, v in initial.items() if k not in ("choices", "condition")}),
            **formset_data([], "ch")}

    def stored():
        return only_version(muni_a, "builder-multi").definition["form"]["sections"][1]["fields"][1].get("show_if")

    # Values of another field, or no first condition: refused, naming the setting; nothing saved.
    response = admin.post(field_page, {**base, "condition_also": ["contact=mail"]})
    assert response.status_code == 400 and "先に「表示する条件」を選んでください。" in response.content.decode()
    admin.post(build, {"op": "add_field", "section": "1", "nf1-label_ja": "同意", "nf1-widget": "checkbox"})
    agree = only_version(muni_a, "builder-multi").definition["form"]["sections"][1]["fields"][2]["name"]
    response = admin.post(field_page, {**base, "condition": f"{agree}=true", "condition_also": ["contact=mail"]})
    assert response.status_code == 400 and "「表示する条件」と同じ項目の値から選んでください。" in response.content.decode()
    assert stored() is None
    # 「電話」または「メール」のとき.
    assert admin.post(field_page, {**base, "condition": "contact=phone",
                                   "condition_also": ["contact=mail"]}).status_code == 302
    assert stored() == {"field": "contact", "in": ["phone", "mail"]}
    page = admin.get(field_page).content.decode()
    assert 'value="contact=phone" selected' in page
    assert 'value="contact=mail" id="id_condition_also_1" checked' in page or \
        re.search(r'<input[^>]*value="contact=mail"[^>]*checked', page)
    # Saved untouched, it stays; one value again makes it a plain `equals`.
    assert admin.post(field_page, {**base, "condition": "contact=phone", "condition_also": ["contact=mail"]}).status_code == 302
    assert stored() == {"field": "contact", "in": ["phone", "mail"]}
    assert admin.post(field_page, {**base, "condition": "contact=post"}).status_code == 302
    assert stored() == {"field": "contact", "equals": "post"}


def test_the_dates_a_date_field_accepts_without_json(admin, catalog, muni_a):  # noqa: F811
    where = new(admin, "builder-dates", "blank")
    admin.post(where + "build/", {"op": "add_field", "section": "0", "nf0-label_ja": "収集日", "nf0-widget": "date"})
    d = only_version(muni_a, "builder-dates").definition
    place = (0, len(d["form"]["sections"][0]["fields"]) - 1)
    field_page = where + f"fields/{place[0]}/{place[1]}/"
    initial = builder.field_initial(d, place)
    assert initial["min_days"] is None and "申請日から何日後から" in admin.get(field_page).content.decode()
    base = {"op": "field", **post_data({k: v for k, v in initial.items() if k != "choices"}), **formset_data([], "ch")}
    response = admin.post(field_page, {**base, "min_days": "10", "max_days": "3"})
    assert response.status_code == 400 and "「何日後まで」は「何日後から」以上にしてください。" in response.content.decode()
    assert admin.post(field_page, {**base, "min_days": "3", "max_days": "60"}).status_code == 302
    d = only_version(muni_a, "builder-dates").definition
    assert d["date_rules"] == [{"field": initial["name"], "min_days": 3, "max_days": 60}]
    assert definition_errors(d) == []
    # Renamed, the rule follows; emptied, the rule goes.
    assert admin.post(field_page, {**base, "name": "collection", "min_days": "3", "max_days": "60"}).status_code == 302
    assert only_version(muni_a, "builder-dates").definition["date_rules"][0]["field"] == "collection"
    assert admin.post(field_page, {**base, "name": "collection"}).status_code == 302
    assert "date_rules" not in only_version(muni_a, "builder-dates").definition


def test_choosing_household_members_without_json(admin, catalog, muni_a):  # noqa: F811
    where = new(admin, "builder-household", "blank")
    admin.post(where + "build/", {"op": "add_field", "section": "0", "nf0-label_ja": "引越しする方",
                                  "nf0-widget": "household_members"})
    d = only_version(muni_a, "builder-household").definition
    assert d["household_selection"] is True and definition_errors(d) == []
    page = admin.get(where).content.decode()
    assert "世帯の方の氏名（例）1" in page  # the preview draws a household to choose from
    place = (0, len(d["form"]["sections"][0]["fields"]) - 1)
    response = admin.post(where + "build/", {"op": "remove_field", "section": str(place[0]), "field": str(place[1])})
    assert response.status_code == 302
    d = only_version(muni_a, "builder-household").definition
    assert d["household_selection"] is False and definition_errors(d) == []
