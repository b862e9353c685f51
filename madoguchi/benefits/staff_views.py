"""Back office: benefit programs and their dry run. Administrators. Thin: rules in services."""

import io

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from madoguchi.audit.services import record

from madoguchi.staff.decorators import staff_member_required
from madoguchi.staff.models import Membership

from . import payouts, runs, services
from .models import PaymentRun, Program

ADMIN = Membership.Role.ADMINISTRATOR
DATE = {"widget": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}


class ProgramForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("事業名"), max_length=services.NAME_MAX,
                           error_messages={"required": gettext_lazy("事業名を入力してください。")})
    legal_basis = forms.CharField(label=gettext_lazy("根拠（要綱・条例・法令）"), max_length=services.BASIS_MAX,
                                  error_messages={"required": gettext_lazy("根拠を入力してください。")})
    reference_date = forms.DateField(label=gettext_lazy("基準日"), **DATE,
                                     error_messages={"required": gettext_lazy("基準日を入力してください。"),
                                                     "invalid": gettext_lazy("基準日は 2026-12-01 のように入力してください。")})
    unit = forms.ChoiceField(label=gettext_lazy("支給単位"), choices=Program.Unit.choices)
    amount_yen = forms.IntegerField(label=gettext_lazy("支給額（円）"), min_value=1, max_value=services.AMOUNT_MAX,
                                    error_messages={"required": gettext_lazy("支給額を入力してください。")})
    age_min = forms.IntegerField(label=gettext_lazy("年齢の下限（任意・歳）"), required=False, min_value=0, max_value=150)
    age_max = forms.IntegerField(label=gettext_lazy("年齢の上限（任意・歳）"), required=False, min_value=0, max_value=150)
    age_on = forms.DateField(label=gettext_lazy("年齢の基準日（空なら基準日）"), required=False, **DATE)
    child_under_age = forms.IntegerField(label=gettext_lazy("子どもの年齢（〜歳未満の子がいる世帯に限るとき）"),
                                         required=False, min_value=1, max_value=30)
    excluded_flags = forms.CharField(label=gettext_lazy("除外する区分（空白区切り、例: 生活保護）"), required=False,
                                     max_length=200)


@never_cache
@staff_member_required(ADMIN)
def program_list(request, code):
    form = ProgramForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                program = services.create(request.user, **form.cleaned_data)
            except services.ProgramError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            else:
                return redirect("benefits_staff:detail", code, program.pk)
        return render(request, "benefits/staff_list.html", {"form": form, "programs": _programs()}, status=400)
    return render(request, "benefits/staff_list.html", {"form": form, "programs": _programs()})


def _programs():
    return Program.objects.order_by("-created_at")[:50]


@never_cache
@staff_member_required(ADMIN)
def program_detail(request, code, pk):
    return _detail(request, _program(pk))


# -- paying: open the program, paper 確認書, payment runs ----------------------------------


class OpenForm(forms.Form):
    decline_days = forms.IntegerField(label=gettext_lazy("辞退・口座変更の受付期間（日）"), min_value=1,
                                      max_value=payouts.DECLINE_DAYS_MAX, initial=payouts.DECLINE_DAYS_DEFAULT,
                                      error_messages={"required": gettext_lazy("受付期間を日数で入力してください。")})


class PaperConfirmationForm(forms.Form):
    resident_number = forms.CharField(label=gettext_lazy("宛名番号"), max_length=20)
    bank = forms.CharField(label=gettext_lazy("金融機関（コード4桁または名前）"), max_length=100)
    branch = forms.CharField(label=gettext_lazy("支店（コード3桁または名前）"), max_length=100)
    account_type = forms.ChoiceField(label=gettext_lazy("預金種目"),
                                     choices=[("1", gettext_lazy("普通")), ("2", gettext_lazy("当座")),
                                              ("4", gettext_lazy("貯蓄"))])
    account_number = forms.CharField(label=gettext_lazy("口座番号（7桁）"), max_length=20)
    holder_kana = forms.CharField(label=gettext_lazy("口座名義（カナ）"), max_length=100)


class RunForm(forms.Form):
    payment_date = forms.DateField(label=gettext_lazy("振込指定日"), **DATE,
                                   error_messages={"required": gettext_lazy("振込指定日を入力してください。"),
                                                   "invalid": gettext_lazy("振込指定日は 2026-12-01 のように入力してください。")})
    payer_code = forms.CharField(label=gettext_lazy("振込依頼人コード（10桁）"), max_length=10)
    payer_name = forms.CharField(label=gettext_lazy("振込依頼人名（カナ）"), max_length=40)
    payer_bank_code = forms.CharField(label=gettext_lazy("支払元の金融機関コード（4桁）"), max_length=4)
    payer_branch_code = forms.CharField(label=gettext_lazy("支払元の支店コード（3桁）"), max_length=3)
    payer_account_type = forms.ChoiceField(label=gettext_lazy("支払元の預金種目"),
                                           choices=[("1", gettext_lazy("普通")), ("2", gettext_lazy("当座")),
                                                    ("9", gettext_lazy("その他"))])
    payer_account_number = forms.CharField(label=gettext_lazy("支払元の口座番号（7桁）"), max_length=7)


class ResultsForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("金融機関の結果ファイル"),
                           error_messages={"required": gettext_lazy("結果ファイルを選んでください。")})


def _program(pk) -> Program:
    program = Program.objects.filter(pk=pk).first()
    if program is None:
        raise Http404
    return program


def _run(program, run_pk) -> PaymentRun:
    run = PaymentRun.objects.filter(pk=run_pk, program=program).first()
    if run is None:
        raise Http404
    return run


def _refused(form, exc: payouts.PayoutError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, str(exc))


def _payer_initial(program) -> dict:
    """The last run's payer (the municipality's account rarely changes)."""
    last = PaymentRun.objects.order_by("-created_at").first()
    if last is None:
        return {}
    return {name: getattr(last, name) for name in RunForm.base_fields if name.startswith("payer_")}


def _detail(request, program, status=200, **forms_):
    context = {"program": program, "open_form": forms_.get("open_form") or OpenForm(),
               "paper_form": forms_.get("paper_form") or PaperConfirmationForm(),
               "run_form": forms_.get("run_form") or RunForm(initial=_payer_initial(program)),
               "runs": program.runs.order_by("-created_at")[:20]}
    if program.status == Program.Status.DRAFT:
        context["run"] = services.dry_run(program)
    else:
        context["summary"] = payouts.summary(program)
    return render(request, "benefits/staff_detail.html", context, status=status)


@never_cache
@require_POST
@staff_member_required(ADMIN)
def program_open(request, code, pk):
    program = _program(pk)
    form = OpenForm(request.POST)
    if form.is_valid():
        try:
            result = payouts.open_program(program, request.user, decline_days=form.cleaned_data["decline_days"])
        except payouts.PayoutError as exc:
            _refused(form, exc)
        else:
            messages.success(request, _("支給を始めました: 支給予定通知 %(push)s件、確認書の案内 %(conf)s件。")
                             % {"push": result["push"], "conf": result["confirmation"]})
            return redirect("benefits_staff:detail", code, program.pk)
    return _detail(request, program, status=400, open_form=form)


@never_cache
@require_POST
@staff_member_required(ADMIN)
def paper_confirmation(request, code, pk):
    program = _program(pk)
    form = PaperConfirmationForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            payouts.confirm_on_paper(request.user, program, data["resident_number"], data)
        except payouts.PayoutError as exc:
            _refused(form, exc)
            return _detail(request, program, status=exc.status, paper_form=form)
        messages.success(request, _("宛名番号 %(n)s の確認書を受け付けました。") % {"n": data["resident_number"]})
        return redirect("benefits_staff:detail", code, program.pk)
    return _detail(request, program, status=400, paper_form=form)


@never_cache
@require_POST
@staff_member_required(ADMIN)
def run_build(request, code, pk):
    program = _program(pk)
    form = RunForm(request.POST)
    if form.is_valid():
        data = dict(form.cleaned_data)
        try:
            run = runs.build(request.user, program, data.pop("payment_date"), data)
        except payouts.PayoutError as exc:
            _refused(form, exc)
            return _detail(request, program, status=exc.status, run_form=form)
        return redirect("benefits_staff:run", code, program.pk, run.pk)
    return _detail(request, program, status=400, run_form=form)


def _run_page(request, program, run, status=200, results_form=None):
    return render(request, "benefits/staff_run.html", {
        "program": program, "run": run, "banks": runs.by_bank(run), "results_form": results_form or ResultsForm(),
        "own": run.created_by_id == request.user.pk,
        "failed": run.payments.filter(status="failed").select_related("beneficiary").order_by("id")[:200]},
        status=status)


@never_cache
@staff_member_required(ADMIN)
def run_detail(request, code, pk, run_pk):
    program = _program(pk)
    return _run_page(request, program, _run(program, run_pk))


@never_cache
@require_POST
@staff_member_required(ADMIN)
def run_action(request, code, pk, run_pk, action):
    program = _program(pk)
    run = _run(program, run_pk)
    try:
        if action == "approve":
            runs.approve(request.user, run)
            messages.success(request, _("振込データを承認しました。振込ファイルをダウンロードできます。"))
        elif action == "cancel":
            runs.cancel(request.user, run)
            messages.success(request, _("振込データを取り消しました。対象者は次の振込データに入ります。"))
        else:
            raise Http404
    except payouts.PayoutError as exc:
        messages.error(request, str(exc))
        run.refresh_from_db()
        return _run_page(request, program, run, status=exc.status)
    return redirect("benefits_staff:run", code, program.pk, run.pk)


@never_cache
@staff_member_required(ADMIN)
def run_file(request, code, pk, run_pk):
    program = _program(pk)
    run = _run(program, run_pk)
    try:
        data = runs.released_file(run)
    except payouts.PayoutError as exc:
        messages.error(request, str(exc))
        return _run_page(request, program, run, status=exc.status)
    record("benefits.run_downloaded", actor=request.user, obj=run, data={"sha256": run.file_sha256})
    return FileResponse(io.BytesIO(data), as_attachment=True, filename=runs.file_name(run),
                        content_type="application/octet-stream")


@never_cache
@require_POST
@staff_member_required(ADMIN)
def run_results(request, code, pk, run_pk):
    program = _program(pk)
    run = _run(program, run_pk)
    form = ResultsForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > runs.MAX_RESULT_BYTES:
            form.add_error("file", _("結果ファイルが大きすぎます（200MBまで）。"))
            return _run_page(request, program, run, status=413, results_form=form)
        try:
            outcome = runs.import_results(request.user, run, upload.read())
        except payouts.PayoutError as exc:
            _refused(form, exc)
            run.refresh_from_db()
            return _run_page(request, program, run, status=exc.status, results_form=form)
        messages.success(request, _("結果を取り込みました: 振込済み %(paid)s件、振込不能 %(failed)s件。") % outcome)
        return redirect("benefits_staff:run", code, program.pk, run.pk)
    return _run_page(request, program, run, status=400, results_form=form)
