"""Back office: the procedure builder's pages (sections, fields, choices, conditions,
repeatable groups, attachments, fee items, export columns) — plain forms, every change a
POST that works without JavaScript. The views are thin: `builder.py` edits the
definition, `editor.update_draft` checks the rights, stores and audits."""

from django import forms
from django.contrib import messages
from django.forms import formset_factory
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from madoguchi.staff.decorators import staff_member_required

from . import builder, editor, services
from . import forms as resident_forms
from .models import ProcedureVersion

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
WIDGET_LABELS = [
    ("text", gettext_lazy("1行の文字")), ("textarea", gettext_lazy("複数行の文字")),
    ("radio", gettext_lazy("選択肢から1つ（ラジオボタン）")), ("select", gettext_lazy("選択肢から1つ（プルダウン）")),
    ("checkboxes", gettext_lazy("選択肢から複数")), ("checkbox", gettext_lazy("チェック1つ（はい／いいえ）")),
    ("date", gettext_lazy("日付")), ("number", gettext_lazy("数")), ("email", gettext_lazy("メールアドレス")),
    ("tel", gettext_lazy("電話番号")), ("postal_code", gettext_lazy("郵便番号")),
    ("mynumber", gettext_lazy("個人番号（個人番号利用事務のみ）")), ("group", gettext_lazy("繰り返し（子どもなど複数人分）")),
    ("household_members", gettext_lazy("世帯員から選ぶ（住民記録の世帯の方が選択肢になる）")),
]
FILE_TYPES = [("application/pdf", "PDF"), ("image/jpeg", "JPEG"), ("image/png", "PNG")]


class SectionForm(forms.Form):
    title_ja = forms.CharField(label=gettext_lazy("見出し（日本語）"), max_length=200)
    title_en = forms.CharField(label=gettext_lazy("見出し（英語）"), max_length=200)
    help_ja = forms.CharField(label=gettext_lazy("説明（日本語）"), max_length=2000, required=False)
    help_en = forms.CharField(label=gettext_lazy("説明（英語）"), max_length=2000, required=False)


class NewSectionForm(forms.Form):
    title_ja = forms.CharField(label=gettext_lazy("新しいセクションの見出し（日本語）"), max_length=200)
    title_en = forms.CharField(label=gettext_lazy("見出し（英語、空欄なら日本語と同じ）"), max_length=200, required=False)


class NewFieldForm(forms.Form):
    label_ja = forms.CharField(label=gettext_lazy("新しい項目の名称（日本語）"), max_length=200)
    widget = forms.ChoiceField(label=gettext_lazy("種類"), choices=WIDGET_LABELS)


class FieldForm(forms.Form):
    label_ja = forms.CharField(label=gettext_lazy("名称（日本語）"), max_length=2000)
    label_en = forms.CharField(label=gettext_lazy("名称（英語）"), max_length=2000)
    help_ja = forms.CharField(label=gettext_lazy("入力の説明（日本語）"), max_length=2000, required=False,
                              widget=forms.Textarea(attrs={"rows": 2}))
    help_en = forms.CharField(label=gettext_lazy("入力の説明（英語）"), max_length=2000, required=False,
                              widget=forms.Textarea(attrs={"rows": 2}))
    widget = forms.ChoiceField(label=gettext_lazy("種類"), choices=WIDGET_LABELS)
    required = forms.BooleanField(label=gettext_lazy("必須にする"), required=False)
    name = forms.RegexField(label=gettext_lazy("識別名（出力や条件で使う。半角英小文字・数字・「_」）"), regex=NAME_PATTERN,
                            max_length=63, error_messages={"invalid": gettext_lazy(
                                "識別名は半角英小文字で始め、半角英小文字・数字・「_」で入力してください。")})
    max_length = forms.IntegerField(label=gettext_lazy("最大の文字数（1行・複数行の文字）"), min_value=1, max_value=2000,
                                    required=False)
    minimum = forms.IntegerField(label=gettext_lazy("最小値（数）"), min_value=-1000000, max_value=1000000, required=False)
    maximum = forms.IntegerField(label=gettext_lazy("最大値（数）"), min_value=-1000000, max_value=1000000, required=False)
    min_rows = forms.IntegerField(label=gettext_lazy("最少の件数（繰り返し）"), min_value=0, max_value=50, required=False)
    max_rows = forms.IntegerField(label=gettext_lazy("最大の件数（繰り返し）"), min_value=1, max_value=50, required=False)
    min_days = forms.IntegerField(label=gettext_lazy("受け付ける日付: 申請日から何日後から（過去は −）"),
                                  min_value=-3650, max_value=3650, required=False)
    max_days = forms.IntegerField(label=gettext_lazy("受け付ける日付: 申請日から何日後まで（過去は −）"),
                                  min_value=-3650, max_value=3650, required=False)
    condition = forms.ChoiceField(label=gettext_lazy("表示する条件"), required=False)
    # More values of the same field ("『A』が「x」または「y」のとき"): merged into `condition`.
    condition_also = forms.MultipleChoiceField(label=gettext_lazy("または、次のときも表示する"), required=False,
                                               widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, conditions=(), taken=(), **kwargs):
        initial = kwargs.get("initial")
        if initial and "|" in (initial.get("condition") or "") and initial["condition"] not in dict(conditions):
            # A stored condition over several values: the first in the select, the rest ticked.
            name, _sep, raw = initial["condition"].partition("=")
            first, *more = raw.split("|")
            kwargs["initial"] = {**initial, "condition": f"{name}={first}",
                                 "condition_also": [f"{name}={v}" for v in more]}
        super().__init__(*args, **kwargs)
        self.fields["condition"].choices = [("", _("いつも表示する"))] + list(conditions)
        self.fields["condition_also"].choices = [(k, label) for k, label in conditions
                                                 if "|" not in k and not k.endswith("=true")]
        current = (kwargs.get("initial") or {}).get("widget")
        if current and current not in dict(WIDGET_LABELS):  # a kind only the JSON makes (household_members)
            self.fields["widget"].choices = WIDGET_LABELS + [(current, current)]
        self.taken = set(taken)

    def clean_name(self):
        name = self.cleaned_data["name"]
        if name != self.initial.get("name") and name in self.taken:
            raise forms.ValidationError(_("この識別名はすでに使われています。別の識別名にしてください。"))
        return name

    def clean(self):
        data = super().clean()
        if data.get("minimum") is not None and data.get("maximum") is not None and data["minimum"] > data["maximum"]:
            self.add_error("maximum", _("最大値は最小値以上にしてください。"))
        if data.get("min_rows") is not None and data.get("max_rows") is not None and data["min_rows"] > data["max_rows"]:
            self.add_error("max_rows", _("最大の件数は最少の件数以上にしてください。"))
        if data.get("min_days") is not None and data.get("max_days") is not None and data["min_days"] > data["max_days"]:
            self.add_error("max_days", _("「何日後まで」は「何日後から」以上にしてください。"))
        also = data.pop("condition_also", None) or []
        if also:
            condition = data.get("condition") or ""
            name, _sep, first = condition.partition("=")
            if not condition:
                self.add_error("condition_also", _("先に「表示する条件」を選んでください。"))
            elif any(key.partition("=")[0] != name for key in also):
                self.add_error("condition_also", _("「表示する条件」と同じ項目の値から選んでください。"))
            else:
                values = list(dict.fromkeys(first.split("|") + [key.partition("=")[2] for key in also]))
                data["condition"] = f"{name}={'|'.join(values)}"
        return data


class ChoiceRowForm(forms.Form):
    label_ja = forms.CharField(label=gettext_lazy("選択肢（日本語）"), max_length=2000, required=False)
    label_en = forms.CharField(label=gettext_lazy("選択肢（英語）"), max_length=2000, required=False)
    value = forms.RegexField(label=gettext_lazy("値（出力される値。半角英数字）"), regex=r"^[A-Za-z0-9_.-]{1,63}$",
                             max_length=63, required=False, error_messages={"invalid": gettext_lazy(
                                 "値は半角英数字と「_」「-」「.」で入力してください。")})

    def clean(self):
        data = super().clean()
        if data.get("label_ja") and not data.get("value"):
            self.add_error("value", _("選択肢「%(label)s」の値を入力してください。") % {"label": data["label_ja"]})
        if data.get("value") and not data.get("label_ja"):
            self.add_error("label_ja", _("値「%(value)s」の選択肢の名称（日本語）を入力してください。") % {"value": data["value"]})
        return data


class _OrderedChoices(forms.BaseFormSet):
    """Choices in the order the clerk numbers them (順番): a renumbered row moves, with no
    JavaScript and no delete-and-add. Rows left without a number keep their place, last."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if "ORDER" in form.fields:
            form.fields["ORDER"].label = _("順番")
            form.fields["ORDER"].widget.attrs.update({"min": 1, "max": 999, "class": "builder-order"})


ChoiceFormSet = formset_factory(ChoiceRowForm, formset=_OrderedChoices, extra=3, can_delete=True,
                                can_order=True, max_num=200)


class AttachmentsForm(forms.Form):
    max_count = forms.IntegerField(label=gettext_lazy("添付できるファイルの数（0なら添付なし）"), min_value=0, max_value=20)
    min_count = forms.IntegerField(label=gettext_lazy("必ず添付するファイルの数"), min_value=0, max_value=20)
    max_mb = forms.DecimalField(label=gettext_lazy("1件の大きさの上限（MB）"), min_value=0, max_value=20,
                                decimal_places=1)
    types = forms.MultipleChoiceField(label=gettext_lazy("受け付けるファイルの種類"), choices=FILE_TYPES, required=False,
                                      widget=forms.CheckboxSelectMultiple)
    label_ja = forms.CharField(label=gettext_lazy("見出し（日本語）"), max_length=2000, required=False)
    label_en = forms.CharField(label=gettext_lazy("見出し（英語）"), max_length=2000, required=False)

    def clean(self):
        data = super().clean()
        if data.get("max_mb") is not None:
            data["max_mb"] = float(data["max_mb"])
        if data.get("max_count") and not data.get("max_mb"):
            self.add_error("max_mb", _("1件の大きさの上限を入力してください。"))
        if data.get("max_count") and not data.get("types"):
            self.add_error("types", _("受け付けるファイルの種類を1つ以上選んでください。"))
        if (data.get("min_count") or 0) > (data.get("max_count") or 0):
            self.add_error("min_count", _("必ず添付する数は、添付できる数以下にしてください。"))
        return data


class FeeItemForm(forms.Form):
    field = forms.ChoiceField(label=gettext_lazy("通数の項目"), required=False)
    yen = forms.IntegerField(label=gettext_lazy("1通の金額（円）"), min_value=0, max_value=100000, required=False)
    label_ja = forms.CharField(label=gettext_lazy("内訳の名称（日本語）"), max_length=2000, required=False)
    label_en = forms.CharField(label=gettext_lazy("内訳の名称（英語）"), max_length=2000, required=False)

    def __init__(self, *args, numbers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["field"].choices = [("", "—")] + list(numbers)

    def clean(self):
        data = super().clean()
        if data.get("field") and data.get("yen") is None:
            self.add_error("yen", _("金額を入力してください。"))
        return data


FeeItemFormSet = formset_factory(FeeItemForm, extra=1, can_delete=True, max_num=50)


class ExportColumnForm(forms.Form):
    column = forms.CharField(label=gettext_lazy("列名"), max_length=100, required=False)
    pointer = forms.ChoiceField(label=gettext_lazy("出力するデータ"), required=False)

    def __init__(self, *args, places=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pointer"].choices = [("", "—")] + list(places)

    def clean(self):
        data = super().clean()
        if data.get("column") and not data.get("pointer"):
            self.add_error("pointer", _("列「%(column)s」に出力するデータを選んでください。") % {"column": data["column"]})
        if data.get("pointer") and not data.get("column"):
            self.add_error("column", _("列名を入力してください。"))
        return data


ExportFormSet = formset_factory(ExportColumnForm, extra=2, can_delete=True, max_num=200)


# ---------------------------------------------------------------------------------------


def _rows(formset, keys) -> list[dict]:
    """The rows of a valid formset, deleted and empty ones left out, in order (the order the
    clerk gave where the formset can be ordered)."""
    out = []
    for form in (formset.ordered_forms if formset.can_order else formset.forms):
        data = getattr(form, "cleaned_data", {}) or {}
        if data.get("DELETE") or not any(data.get(k) not in (None, "") for k in keys):
            continue
        out.append({k: data.get(k) if data.get(k) is not None else ("" if k != "yen" else None) for k in keys})
    return out


def preview_sections(d: dict, only=None):
    """The resident's form for the preview pane, drawn by the resident's own renderer
    (`procedures/forms.py` and `applications/_field.html`); None when it cannot be drawn."""
    d = builder.drawable(d)
    try:
        # A household to choose from: in the preview, examples (a resident sees their own).
        drawn = resident_forms.sections(d, {}, {}, [("example-1", _("世帯の方の氏名（例）1")),
                                                    ("example-2", _("世帯の方の氏名（例）2"))])
    except (KeyError, TypeError, IndexError, AttributeError, ValueError):
        return None
    return [drawn[only]] if only is not None and only < len(drawn) else drawn


def version_context(request, version, *, overrides=None) -> dict:
    """Everything the builder's part of the version page shows."""
    d = version.definition if isinstance(version.definition, dict) else {}
    errors = editor.publish_errors(version.municipality, version.definition)
    overrides = overrides or {}
    section_forms = []
    for i, s in enumerate(builder.sections(d)):
        fields = []
        for j, f in enumerate(s.get("fields", []) if isinstance(s.get("fields"), list) else []):
            fields.append({"index": j, "label": resident_forms.text(f.get("label")) or f.get("name", ""),
                           "widget": dict(WIDGET_LABELS).get(f.get("widget", "text"), f.get("widget")),
                           "required": f.get("name") in ((d.get("schema") or {}).get("required") or []),
                           "condition": bool(f.get("show_if")),
                           "sub": [resident_forms.text(g.get("label")) for g in f.get("fields", [])]})
        section_forms.append({
            "index": i, "title": resident_forms.text(s.get("title")), "fields": fields,
            "form": overrides.get(("section", i)) or SectionForm(initial=builder.section_initial(d, i),
                                                                  prefix=f"s{i}"),
            "new_field": overrides.get(("new_field", i)) or NewFieldForm(prefix=f"nf{i}")})
    numbers = builder.number_fields(d)
    places = builder.export_places(d)
    return {
        "builder": {
            "problems": builder.problems(errors, version.definition), "sections": section_forms,
            "new_section": overrides.get("new_section") or NewSectionForm(prefix="ns"),
            "attachments": overrides.get("attachments") or AttachmentsForm(initial=builder.attachments_initial(d),
                                                                           prefix="at"),
            "fee_per_copy": (d.get("fee") or {}).get("kind") == "per_copy",
            "fee_items": overrides.get("fee_items") or FeeItemFormSet(
                initial=builder.fee_items_initial(d), prefix="fee", form_kwargs={"numbers": numbers}),
            "export": overrides.get("export") or ExportFormSet(initial=builder.export_initial(d), prefix="ex",
                                                              form_kwargs={"places": places}),
            "preview": preview_sections(d) if d else None,
            "preview_attachments": (d.get("attachments") or {}).get("max_count", 0),
            "fee_text": _fee_text(d),
        },
        "problems_count": len(errors),
    }


def _fee_text(d: dict) -> str:
    fee = d.get("fee") if isinstance(d.get("fee"), dict) else {}
    if fee.get("kind") == "fixed" and isinstance(fee.get("yen"), int):
        return _("手数料 %(yen)s円") % {"yen": f"{fee['yen']:,}"}
    if fee.get("kind") == "per_copy":
        return "、".join(_("%(label)s 1通%(yen)s円") % {"label": resident_forms.text(i.get("label")) or i.get("field"),
                                                      "yen": f"{i.get('yen', 0):,}"} for i in fee.get("items", [])
                        if isinstance(i, dict))
    return ""


def _version(pk, number):
    from .staff_views import _version as find

    return find(pk, number)


def _save(request, version, definition, message):
    try:
        editor.update_draft(version, request.membership, definition, actor=request.user)
    except editor.EditRefused as exc:
        return render(request, "403.html", {"reason": str(exc)}, status=403)
    except services.DefinitionInvalid as exc:
        messages.error(request, "; ".join(exc.errors))
        return None
    messages.success(request, message)
    return None


def _editable_or_refusal(request, version):
    if version.status != ProcedureVersion.Status.DRAFT:
        return render(request, "403.html", {"reason": _("公開済み・公開終了の版は変更できません。新しい版を作ってください。")},
                      status=409)
    if not editor.can_edit(request.membership, version.procedure):
        return render(request, "403.html", {"reason": _("この手続きを編集する権限がありません。")}, status=403)
    return None


def _int(value, default=-1) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@require_POST
@staff_member_required()
def builder_action(request, code, pk, number):
    """One change to the draft's structure: sections, fields (add, move, remove),
    attachments, fee items, export columns."""
    from .staff_views import _version_page

    version = _version(pk, number)
    refused = _editable_or_refusal(request, version)
    if refused:
        return refused
    d = version.definition if isinstance(version.definition, dict) else {}
    op = request.POST.get("op", "")
    i, j = _int(request.POST.get("section")), _int(request.POST.get("field"))
    n_sections = len(builder.sections(d))
    back = reverse("procedures:version", args=[code, pk, number])
    anchor = ""
    if op in ("section", "move_section", "remove_section", "add_field", "move_field", "remove_field") \
            and not 0 <= i < n_sections:
        return render(request, "400.html", {"reason": _("セクションの番号が正しくありません。")}, status=400)
    if op in ("move_field", "remove_field") and not 0 <= j < len(builder.sections(d)[i].get("fields", [])):
        return render(request, "400.html", {"reason": _("項目の番号が正しくありません。")}, status=400)
    delta = -1 if request.POST.get("direction") == "up" else 1
    if op == "add_section":
        form = NewSectionForm(request.POST, prefix="ns")
        if not form.is_valid():
            return _version_page(request, version, builder_overrides={"new_section": form}, status=400)
        new = builder.add_section(d, form.cleaned_data["title_ja"],
                                  form.cleaned_data["title_en"] or form.cleaned_data["title_ja"])
        message, anchor = _("セクションを追加しました。"), f"section-{n_sections}"
    elif op == "section":
        form = SectionForm(request.POST, prefix=f"s{i}")
        if not form.is_valid():
            return _version_page(request, version, builder_overrides={("section", i): form}, status=400)
        new, message, anchor = builder.update_section(d, i, form.cleaned_data), _("セクションを保存しました。"), f"section-{i}"
    elif op == "move_section":
        new, message, anchor = builder.move_section(d, i, delta), _("セクションを移動しました。"), f"section-{i + delta}"
    elif op == "remove_section":
        new, message = builder.remove_section(d, i), _("セクションを削除しました。")
    elif op == "add_field":
        form = NewFieldForm(request.POST, prefix=f"nf{i}")
        if not form.is_valid():
            return _version_page(request, version, builder_overrides={("new_field", i): form}, status=400)
        new, place = builder.add_field(d, (i,), form.cleaned_data["widget"], form.cleaned_data["label_ja"])
        result = _save(request, version, new, _("項目「%(label)s」を追加しました。続けて設定してください。")
                       % {"label": form.cleaned_data["label_ja"]})
        return result or redirect("procedures:field", code, pk, number, place[0], place[1])
    elif op == "move_field":
        new, message, anchor = builder.move_field(d, (i, j), delta), _("項目を移動しました。"), f"section-{i}"
    elif op == "remove_field":
        new, message, anchor = builder.remove_field(d, (i, j)), _("項目を削除しました。"), f"section-{i}"
    elif op == "attachments":
        form = AttachmentsForm(request.POST, prefix="at")
        if not form.is_valid():
            return _version_page(request, version, builder_overrides={"attachments": form}, status=400)
        new, message, anchor = builder.update_attachments(d, form.cleaned_data), _("添付書類の設定を保存しました。"), "attachments"
    elif op == "fee_items":
        formset = FeeItemFormSet(request.POST, prefix="fee", form_kwargs={"numbers": builder.number_fields(d)})
        if not formset.is_valid():
            return _version_page(request, version, builder_overrides={"fee_items": formset}, status=400)
        new = builder.update_fee_items(d, _rows(formset, ("field", "yen", "label_ja", "label_en")))
        message, anchor = _("手数料の内訳を保存しました。"), "fee-items"
    elif op == "export":
        formset = ExportFormSet(request.POST, prefix="ex", form_kwargs={"places": builder.export_places(d)})
        if not formset.is_valid():
            return _version_page(request, version, builder_overrides={"export": formset}, status=400)
        new, message, anchor = builder.update_export(d, _rows(formset, ("column", "pointer"))), \
            _("基幹連携の出力を保存しました。"), "export"
    else:
        return render(request, "400.html", {"reason": _("操作が正しくありません。")}, status=400)
    result = _save(request, version, new, message)
    return result or redirect(back + (f"#{anchor}" if anchor else ""))


def _place(d, section, field, sub):
    try:
        s = builder.sections(d)[section]
        f = s["fields"][field]
        if sub is not None:
            f["fields"][sub]  # noqa: B018 — it exists
    except (IndexError, KeyError, TypeError):
        return None
    return (section, field) if sub is None else (section, field, sub)


@never_cache
@require_http_methods(["GET", "POST"])
@staff_member_required()
def field_edit(request, code, pk, number, section, field, sub=None):
    """One field: name, label, help, kind, required, choices, condition, limits; a
    group's own fields are listed with add / move / remove."""
    version = _version(pk, number)
    d = version.definition if isinstance(version.definition, dict) else {}
    place = _place(d, section, field, sub)
    if place is None:
        from django.http import Http404

        raise Http404
    editable = version.status == ProcedureVersion.Status.DRAFT and editor.can_edit(request.membership, version.procedure)
    initial = builder.field_initial(d, place)
    owner = builder.field_at(d, place)[3]
    taken = [f.get("name") for f in owner] if len(place) == 3 else builder.all_names(d)
    conditions = builder.condition_choices(d, place)
    known = {k for k, _l in conditions}
    first = initial["condition"].split("|")[0]
    if initial["condition"] and initial["condition"] not in known and first not in known:
        conditions.append((initial["condition"], _("今の条件（%(key)s）") % {"key": initial["condition"]}))
    form = FieldForm(request.POST or None, initial=initial, conditions=conditions, taken=taken)
    choices = ChoiceFormSet(request.POST or None, initial=initial["choices"], prefix="ch")
    group_form = NewFieldForm(prefix="nf")
    status = 200
    if request.method == "POST":
        refused = _editable_or_refusal(request, version)
        if refused:
            return refused
        op = request.POST.get("op", "field")
        if op == "preview":
            return _live_preview(request, d, place, form, choices)
        if op in ("add_sub", "move_sub", "remove_sub") and len(place) == 2:
            return _group_change(request, version, d, place, op, code, pk, number)
        if form.is_valid() and choices.is_valid():
            values = dict(form.cleaned_data)
            values["choices"] = [{"value": r["value"], "label_ja": r["label_ja"], "label_en": r["label_en"]}
                                 for r in _rows(choices, ("value", "label_ja", "label_en"))]
            if len({c["value"] for c in values["choices"]}) != len(values["choices"]):
                form.add_error(None, _("選択肢の値が重複しています。値を変えてください。"))
            else:
                new = builder.update_field(d, place, values)
                result = _save(request, version, new, _("項目「%(label)s」を保存しました。") % {"label": values["label_ja"]})
                if result:
                    return result
                return redirect(request.path)
        status = 400
    current = builder.field_at(d, place)[0]
    errors = editor.publish_errors(version.municipality, version.definition)
    mine = [p for p in builder.problems(errors, version.definition) if p["place"] and p["place"][:len(place)] == place]
    return render(request, "procedures/builder_field.html", {
        "procedure": version.procedure, "version": version, "place": place, "editable": editable,
        "title": resident_forms.text(d.get("title")), "where": builder.where(d, place),
        "form": form, "choices": choices, "group_form": group_form, "problems": mine,
        "is_group": current.get("widget") == "group" and len(place) == 2,
        "sub_fields": [{"index": k, "label": resident_forms.text(g.get("label")) or g.get("name"),
                        "widget": dict(WIDGET_LABELS).get(g.get("widget", "text"), g.get("widget"))}
                       for k, g in enumerate(current.get("fields", []))] if len(place) == 2 else [],
        "preview": preview_sections(d, only=place[0]),
    }, status=status)


def _live_preview(request, d, place, form, choices):
    """The preview pane for the values being typed, not saved (builder.js asks for it)."""
    if not (form.is_valid() and choices.is_valid()):
        return HttpResponse(status=204)
    values = dict(form.cleaned_data)
    values["choices"] = [{"value": r["value"], "label_ja": r["label_ja"], "label_en": r["label_en"]}
                         for r in _rows(choices, ("value", "label_ja", "label_en"))]
    if len({c["value"] for c in values["choices"]}) != len(values["choices"]):
        return HttpResponse(status=204)
    drawn = preview_sections(builder.update_field(d, place, values), only=place[0])
    response = render(request, "procedures/_preview.html", {"sections": drawn})
    response["Cache-Control"] = "no-store"
    return response


def _group_change(request, version, d, place, op, code, pk, number):
    k = _int(request.POST.get("sub"))
    group = builder.field_at(d, place)[0]
    if op == "add_sub":
        form = NewFieldForm(request.POST, prefix="nf")
        if not form.is_valid():
            messages.error(request, _("新しい項目の名称（日本語）と種類を入力してください。"))
            return redirect("procedures:field", code, pk, number, *place)
        if form.cleaned_data["widget"] == "group":
            messages.error(request, _("繰り返しの中に繰り返しは作れません。"))
            return redirect("procedures:field", code, pk, number, *place)
        new, sub_place = builder.add_field(d, place, form.cleaned_data["widget"], form.cleaned_data["label_ja"])
        result = _save(request, version, new, _("繰り返しの中に項目「%(label)s」を追加しました。")
                       % {"label": form.cleaned_data["label_ja"]})
        return result or redirect("procedures:subfield", code, pk, number, *sub_place)
    if not 0 <= k < len(group.get("fields", [])):
        return render(request, "400.html", {"reason": _("項目の番号が正しくありません。")}, status=400)
    if op == "move_sub":
        new = builder.move_field(d, (*place, k), -1 if request.POST.get("direction") == "up" else 1)
        message = _("項目を移動しました。")
    else:
        new = builder.remove_field(d, (*place, k))
        message = _("項目を削除しました。")
    result = _save(request, version, new, message)
    return result or redirect("procedures:field", code, pk, number, *place)
