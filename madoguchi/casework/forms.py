from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from madoguchi.applications.statemachine import Status

from .services import LISTED, MAX_QUERY_CHARS, SORTS


class InboxFilterForm(forms.Form):
    """The inbox's filters, read from the query string (every value checked: a bad one is a
    400 with the field's message, never a server error)."""

    q = forms.CharField(label=_("氏名・かな・受付番号"), required=False, max_length=MAX_QUERY_CHARS, strip=True)
    procedure = forms.CharField(label=_("手続き"), required=False, max_length=63,
                                validators=[RegexValidator(r"^[-a-z0-9_]*$", _("手続きの指定が正しくありません。"))])
    status = forms.ChoiceField(label=_("状態"), required=False,
                               choices=[("", _("すべて"))] + [(s, Status(s).label) for s in LISTED])
    date_from = forms.DateField(label=_("申請日（から）"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("申請日（まで）"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    assignee = forms.CharField(label=_("担当者"), required=False, max_length=12,
                               validators=[RegexValidator(r"^(me|none|[0-9]{1,11})?$", _("担当者の指定が正しくありません。"))])
    sort = forms.ChoiceField(label=_("並び順"), required=False,
                             choices=[("new", _("新しい順")), ("old", _("古い順"))])
    cursor = forms.CharField(required=False, max_length=400, widget=forms.HiddenInput)

    def clean_sort(self):
        value = self.cleaned_data.get("sort") or "new"
        return value if value in SORTS else "new"

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise forms.ValidationError(_("申請日の範囲が正しくありません（開始日が終了日より後です）。"))
        return data
