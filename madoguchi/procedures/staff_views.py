"""Back office: the procedure editor (list, new, edit a draft, preview, publish, retire).

The views are thin; rights and changes live in `editor.py`. Every page needs a staff
member signed in to this municipality; procedures are looked up through the tenant-scoped
manager, so another municipality's id is a 404.
"""

import datetime as dt
import re

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from madoguchi.core.dates import today_in_japan
from madoguchi.staff.decorators import staff_member_required
from madoguchi.staff.models import Department

from . import definition as defn
from . import builder, editor, services
from . import forms as resident_forms
from .models import Procedure, ProcedureVersion

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"


def _split(errors: list[str]) -> list[dict]:
    """"where: what" lines as path/message pairs for the page."""
    out = []
    for line in errors:
        where, sep, what = line.partition(": ")
        out.append({"path": where if sep else "", "message": what if sep else line})
    return out


class NewProcedureForm(forms.Form):
    slug = forms.RegexField(label=gettext_lazy("識別名（半角英小文字・数字・ハイフン）"), regex=SLUG_PATTERN, max_length=63,
                            error_messages={"invalid": gettext_lazy("半角英小文字・数字・ハイフンで2〜63文字にしてください。")})
    source = forms.ChoiceField(label=gettext_lazy("もとにするもの"))

    def __init__(self, *args, catalog: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = [("blank", _("白紙のひな形"))] + [
            (slug, _("標準の手続きをコピー: %(title)s") % {"title": resident_forms.text(d["title"])})
            for slug, d in sorted(catalog.items())]


class BasicsForm(forms.Form):
    """The common things, over the JSON definition."""

    title_ja = forms.CharField(label=gettext_lazy("名称（日本語）"), max_length=200)
    title_en = forms.CharField(label=gettext_lazy("名称（英語）"), max_length=200)
    description_ja = forms.CharField(label=gettext_lazy("説明（日本語）"), max_length=2000, required=False,
                                     widget=forms.Textarea(attrs={"rows": 3}))
    description_en = forms.CharField(label=gettext_lazy("説明（英語）"), max_length=2000, required=False,
                                     widget=forms.Textarea(attrs={"rows": 3}))
    department = forms.ChoiceField(label=gettext_lazy("担当課"))
    assurance = forms.ChoiceField(label=gettext_lazy("必要な本人確認"), choices=[
        ("none", gettext_lazy("なし")), ("login", gettext_lazy("ログイン（利用者証明）")),
        ("signature", gettext_lazy("電子署名（署名用電子証明書）"))])
    fee_kind = forms.ChoiceField(label=gettext_lazy("手数料"), choices=[
        ("none", gettext_lazy("なし")), ("fixed", gettext_lazy("定額")),
        ("per_copy", gettext_lazy("1通ごと（内訳は下の「手数料の内訳」で設定）"))])
    fee_yen = forms.IntegerField(label=gettext_lazy("定額の手数料（円）"), min_value=0, max_value=1000000, required=False)
    open_from = forms.DateField(label=gettext_lazy("受付開始日"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    open_until = forms.DateField(label=gettext_lazy("受付終了日"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    keywords = forms.CharField(label=gettext_lazy("検索用のことば（「、」で区切る）"), max_length=1000, required=False,
                               help_text=gettext_lazy("住民が手続きを探すときのことばです。例: 粗大ごみ、家具、回収"))
    residents_only = forms.BooleanField(label=gettext_lazy("この市区町村に住民登録のある方だけが申請できる"), required=False)
    min_age = forms.IntegerField(label=gettext_lazy("申請できる年齢（下限・歳）"), min_value=0, max_value=150, required=False)
    max_age = forms.IntegerField(label=gettext_lazy("申請できる年齢（上限・歳）"), min_value=0, max_value=150, required=False)
    household_head = forms.BooleanField(label=gettext_lazy("世帯主だけが申請できる"), required=False)
    one_open_per = forms.ChoiceField(label=gettext_lazy("同時に受け付ける申請"), choices=[
        ("none", gettext_lazy("制限しない")), ("person", gettext_lazy("1人につき1件まで")),
        ("household", gettext_lazy("1世帯につき1件まで"))])

    def __init__(self, *args, departments, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = departments

    def clean(self):
        data = super().clean()
        if data.get("fee_kind") == "fixed" and data.get("fee_yen") is None:
            self.add_error("fee_yen", _("定額の手数料を入力してください。"))
        if data.get("open_from") and data.get("open_until") and data["open_from"] > data["open_until"]:
            self.add_error("open_until", _("受付終了日は開始日より後にしてください。"))
        if data.get("min_age") is not None and data.get("max_age") is not None and data["min_age"] > data["max_age"]:
            self.add_error("max_age", _("年齢の上限は下限以上にしてください。"))
        words = [w.strip() for w in re.split(r"[、,，]", data.get("keywords") or "") if w.strip()]
        if any(len(w) > 40 for w in words):
            self.add_error("keywords", _("ことばは1つ40文字以内にしてください。"))
        data["keywords"] = list(dict.fromkeys(words))
        return data

    @staticmethod
    def initial_from(d: dict) -> dict:
        fee = d.get("fee") if isinstance(d.get("fee"), dict) else {}
        period = d.get("open_period") if isinstance(d.get("open_period"), dict) else {}
        rules = d.get("eligibility") if isinstance(d.get("eligibility"), dict) else {}

        def text(key, lang):
            value = d.get(key)
            return value.get(lang, "") if isinstance(value, dict) else ""

        def date(value):
            try:
                return dt.date.fromisoformat(value)
            except (TypeError, ValueError):
                return None

        return {"title_ja": text("title", "ja"), "title_en": text("title", "en"),
                "description_ja": text("description", "ja"), "description_en": text("description", "en"),
                "department": d.get("department", ""), "assurance": d.get("assurance", "login"),
                "fee_kind": fee.get("kind", "none"), "fee_yen": fee.get("yen"),
                "open_from": date(period.get("from")), "open_until": date(period.get("until")),
                "keywords": "、".join(k for k in d.get("keywords", []) if isinstance(k, str))
                if isinstance(d.get("keywords"), list) else "",
                "residents_only": bool(rules.get("residents_only")), "min_age": rules.get("min_age"),
                "max_age": rules.get("max_age"), "household_head": bool(rules.get("household_head")),
                "one_open_per": d.get("one_open_per", "none")}

    def apply(self, d: dict) -> dict:
        """The definition with these fields written into it."""
        data = self.cleaned_data
        d = dict(d)
        d["title"] = {"ja": data["title_ja"], "en": data["title_en"]}
        if data["description_ja"] or data["description_en"]:
            d["description"] = {"ja": data["description_ja"], "en": data["description_en"]}
        else:
            d.pop("description", None)
        d["department"] = data["department"]
        d["assurance"] = data["assurance"]
        old_fee = d.get("fee") if isinstance(d.get("fee"), dict) else {}
        if data["fee_kind"] == "none":
            d["fee"] = {"kind": "none"}
        elif data["fee_kind"] == "fixed":
            d["fee"] = {"kind": "fixed", "yen": data["fee_yen"]}
        else:
            d["fee"] = {"kind": "per_copy", **({"items": old_fee["items"]} if "items" in old_fee else {})}
        period = {k: v.isoformat() for k, v in (("from", data["open_from"]), ("until", data["open_until"])) if v}
        if period:
            d["open_period"] = period
        else:
            d.pop("open_period", None)
        # What the clerk did not change stays as stored, byte for byte (a `false` rule, the
        # keywords' spelling): only a changed part is rewritten.
        before = self.initial_from(d)
        if "、".join(data["keywords"]) != before["keywords"]:
            if data["keywords"]:
                d["keywords"] = data["keywords"]
            else:
                d.pop("keywords", None)
        rule_keys = ("residents_only", "household_head", "min_age", "max_age")
        if any(data[k] != before[k] for k in rule_keys):
            rules = {k: True for k in ("residents_only", "household_head") if data[k]}
            rules.update({k: data[k] for k in ("min_age", "max_age") if data[k] is not None})
            if rules:
                d["eligibility"] = rules
            else:
                d.pop("eligibility", None)
        if data["one_open_per"] != before["one_open_per"]:
            d["one_open_per"] = data["one_open_per"]
        return d


class DefinitionForm(forms.Form):
    definition = forms.CharField(label=gettext_lazy("定義（JSON）"), strip=False,
                                 max_length=defn.MAX_DEFINITION_BYTES,
                                 widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false"}))


def _departments(municipality) -> list[tuple[str, str]]:
    return [(d.code, f"{d.name}（{d.code}）") for d in Department.objects.order_by("code")]


def _procedure(pk) -> Procedure:
    return get_object_or_404(Procedure, pk=pk)


def _version(pk, number) -> ProcedureVersion:
    version = ProcedureVersion.objects.select_related("procedure").filter(procedure_id=pk, number=number).first()
    if version is None:
        raise Http404
    return version


def _refused(request, exc):
    return render(request, "403.html", {"reason": str(exc)}, status=403)


@never_cache
@staff_member_required()
def procedure_list(request, code):
    rows = []
    for procedure in Procedure.objects.order_by("slug").prefetch_related("versions"):
        versions = sorted(procedure.versions.all(), key=lambda v: v.number)
        current = next((v for v in reversed(versions) if v.status == ProcedureVersion.Status.PUBLISHED), None)
        latest = versions[-1] if versions else None
        shown = current or latest
        rows.append({"p": procedure, "title": resident_forms.text(shown.definition.get("title")) if shown else "",
                     "current": current, "latest": latest,
                     "drafts": sum(1 for v in versions if v.status == ProcedureVersion.Status.DRAFT)})
    names = dict(Department.objects.values_list("code", "name"))
    for row in rows:
        row["department"] = names.get(row["p"].department_code, row["p"].department_code)
    return render(request, "procedures/staff_list.html", {
        "rows": rows, "can_create": editor.can_draft(request.membership)})


@never_cache
@require_http_methods(["GET", "POST"])
@staff_member_required()
def procedure_new(request, code):
    if not editor.can_draft(request.membership):
        return _refused(request, editor.EditRefused(_("手続きを作成する権限がありません。")))
    catalog = editor.catalog_definitions()
    form = NewProcedureForm(request.POST or None, catalog=catalog)
    if request.method == "POST":
        if form.is_valid():
            source = form.cleaned_data["source"]
            try:
                version = editor.new_procedure(request.municipality, request.membership, slug=form.cleaned_data["slug"],
                                               source=None if source == "blank" else catalog[source],
                                               actor=request.user)
            except services.DefinitionInvalid as exc:
                form.add_error("slug", exc.errors[0].partition(": ")[2] or exc.errors[0])
            else:
                messages.success(request, _("下書きを作成しました。"))
                return redirect("procedures:version", code, version.procedure_id, version.number)
        return render(request, "procedures/staff_new.html", {"form": form}, status=400)
    return render(request, "procedures/staff_new.html", {"form": form})


@never_cache
@staff_member_required()
def procedure_detail(request, code, pk):
    procedure = _procedure(pk)
    versions = procedure.versions.order_by("-number")
    current = procedure.current_version()
    shown = current or versions.first()
    return render(request, "procedures/staff_procedure.html", {
        "procedure": procedure, "versions": versions, "current": current,
        "title": resident_forms.text(shown.definition.get("title")) if shown else procedure.slug,
        "department": Department.objects.filter(code=procedure.department_code).values_list("name", flat=True).first()
        or procedure.department_code,
        "can_edit": editor.can_edit(request.membership, procedure),
        "can_publish": editor.can_publish(request.membership)})


def _version_page(request, version, *, basics=None, json_form=None, problems=None, status=200, builder_overrides=None):
    membership = request.membership
    d = version.definition
    editable = version.status == ProcedureVersion.Status.DRAFT and editor.can_edit(membership, version.procedure)
    if basics is None and editable and isinstance(d, dict):
        basics = BasicsForm(initial=BasicsForm.initial_from(d), departments=_departments(request.municipality))
    if json_form is None:
        json_form = DefinitionForm(initial={"definition": editor.pretty(d)})
    from .builder_views import version_context

    context = version_context(request, version, overrides=builder_overrides)
    if problems is not None:
        # A refusal of this request (text that is not JSON, a publish refused): shown first,
        # in Japanese where the builder knows the message, and with the exact reason too —
        # whoever sent it typed JSON or is publishing.
        refused = [{**p, "explained": False} for p in builder.problems(problems, d if isinstance(d, dict) else None)]
        known = {p["raw"] for p in context["builder"]["problems"]}
        context["builder"]["problems"] = [p for p in refused if p["raw"] not in known] + context["builder"]["problems"]
    context.update({
        "procedure": version.procedure, "version": version, "title": resident_forms.text(d.get("title"))
        if isinstance(d, dict) else "", "editable": editable, "basics": basics, "json_form": json_form,
        "can_publish": editor.can_publish(membership),
        "can_edit": editor.can_edit(membership, version.procedure)})
    return render(request, "procedures/staff_version.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
@staff_member_required()
def version_edit(request, code, pk, number):
    version = _version(pk, number)
    if request.method == "GET":
        return _version_page(request, version)
    if version.status != ProcedureVersion.Status.DRAFT:
        return _version_page(request, version, problems=[_("/: 公開済み・公開終了の版は変更できません。新しい版を作ってください。")],
                             status=409)
    if not editor.can_edit(request.membership, version.procedure):
        return _refused(request, editor.EditRefused(_("この手続きを編集する権限がありません。")))
    if request.POST.get("part") == "basics":
        basics = BasicsForm(request.POST, departments=_departments(request.municipality))
        if not basics.is_valid():
            return _version_page(request, version, basics=basics, status=400)
        definition = basics.apply(version.definition if isinstance(version.definition, dict) else {})
        json_form = None
    else:
        if not editor.can_publish(request.membership):
            # The JSON is the administrators' advanced view; others edit through the builder.
            return _refused(request, editor.EditRefused(_("定義全体（JSON）を編集できるのは管理者だけです。")))
        basics = None
        json_form = DefinitionForm(request.POST)
        if not json_form.is_valid():
            return _version_page(request, version, json_form=json_form,
                                 problems=[f"/: {m}" for m in json_form.errors.get("definition", [])], status=400)
        try:
            definition = editor.parse_definition(json_form.cleaned_data["definition"])
        except services.DefinitionInvalid as exc:
            return _version_page(request, version, json_form=json_form, problems=exc.errors, status=400)
    try:
        version = editor.update_draft(version, request.membership, definition, actor=request.user)
    except services.DefinitionInvalid as exc:
        return _version_page(request, version, basics=basics, json_form=json_form, problems=exc.errors, status=400)
    except editor.EditRefused as exc:
        return _refused(request, exc)
    messages.success(request, _("下書きを保存しました。"))
    return redirect("procedures:version", code, pk, version.number)


@never_cache
@require_http_methods(["GET", "POST"])
@staff_member_required()
def version_preview(request, code, pk, number):
    """The resident's form exactly as drawn for them (resident template, resident chrome),
    without prefill; a POST checks the typed data against the definition and stores nothing."""
    version = _version(pk, number)
    d = version.definition
    problems = editor.publish_errors(version.municipality, d)
    if problems:
        return _version_page(request, version, problems=problems, status=400)
    values, errors, message = {}, {}, ""
    if request.method == "POST":
        values = defn.prune_hidden(d, resident_forms.read(d, request.POST))
        errors = defn.data_errors(d, values, today_in_japan())
        if errors:
            message = _("入力内容を確かめてください。")
        else:
            messages.success(request, _("入力内容に問題はありません（プレビューのため申請にはなりません）。"))
    messages.info(request, _("プレビュー（%(slug)s 第%(n)s版）: 住民に表示される申請画面です。事前入力と世帯員は表示されません。送信しても申請にはなりません。")
                  % {"slug": version.procedure.slug, "n": version.number})
    today = today_in_japan()
    if not defn.is_open(d, today):
        messages.warning(request, _("この版の受付期間外のため、住民には「受付期間外です」と表示されます。"))
    rules = d.get("attachments") or {}
    context = {
        "p": {"slug": d["slug"], "title": resident_forms.text(d["title"]), "assurance": d["assurance"],
              "fee": d.get("fee", {"kind": "none"}), "open": defn.is_open(d, today), "mynumber": "mynumber_task" in d},
        "sections": resident_forms.sections(d, values, errors, ()),
        "attachments": {"label": resident_forms.text(rules.get("label")), "max_count": rules.get("max_count", 0),
                        "min_count": rules.get("min_count", 0), "types": ",".join(rules.get("types", [])),
                        "max_mb": round(min(rules.get("max_bytes", 0), settings.APPLICATION_ATTACHMENT_MAX_BYTES)
                                        / 1048576, 1),
                        "errors": [], "current": []},
        "errors": errors, "message": message,
        "problems": [], "support_measure": False, "preview": True}
    return render(request, "applications/form.html", context, status=400 if errors else 200)


@require_POST
@staff_member_required()
def version_copy(request, code, pk, number):
    version = _version(pk, number)
    try:
        draft = editor.new_version_from(version, request.membership, actor=request.user)
    except editor.EditRefused as exc:
        return _refused(request, exc)
    messages.success(request, _("第%(n)s版をもとに下書き（第%(m)s版）を作成しました。") % {"n": version.number, "m": draft.number})
    return redirect("procedures:version", code, pk, draft.number)


@require_POST
@staff_member_required()
def version_publish(request, code, pk, number):
    version = _version(pk, number)
    try:
        editor.publish(version, request.membership, actor=request.user)
    except editor.EditRefused as exc:
        return _refused(request, exc)
    except services.DefinitionInvalid as exc:
        return _version_page(request, version, problems=exc.errors, status=400)
    messages.success(request, _("第%(n)s版を公開しました。") % {"n": version.number})
    return redirect("procedures:detail", code, pk)


@require_POST
@staff_member_required()
def version_discard(request, code, pk, number):
    version = _version(pk, number)
    try:
        editor.discard_draft(version, request.membership, actor=request.user)
    except editor.EditRefused as exc:
        return _refused(request, exc)
    except services.DefinitionInvalid as exc:
        return _version_page(request, version, problems=exc.errors, status=409)
    messages.success(request, _("下書きを削除しました。"))
    return redirect("procedures:detail", code, pk)


@require_POST
@staff_member_required()
def procedure_retire(request, code, pk):
    procedure = _procedure(pk)
    try:
        retired = editor.retire(procedure, request.membership, actor=request.user)
    except editor.EditRefused as exc:
        return _refused(request, exc)
    if retired is None:
        messages.info(request, _("公開中の版はありません。"))
    else:
        messages.success(request, _("受付を終了しました（第%(n)s版を公開終了にしました）。") % {"n": retired.number})
    return redirect("procedures:detail", code, pk)
