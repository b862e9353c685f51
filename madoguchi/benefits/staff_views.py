"""Back office: benefit programs and their dry run. Administrators. Thin: rules in services."""

from django import forms
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from madoguchi.staff.decorators import staff_member_required
from madoguchi.staff.models import Membership

from . import services
from .models import Program

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
    program = Program.objects.filter(pk=pk).first()
    if program is None:
        raise Http404
    return render(request, "benefits/staff_detail.html", {"program": program, "run": services.dry_run(program)})
