from django import forms
from django.utils.translation import gettext_lazy as _

from madoguchi.applications.statemachine import Status

from .formats import choices as format_choices
from .models import Export

STATUS_CHOICES = [("", _("すべて（下書きを除く）"))] + [(s.value, s.label) for s in Status if s != Status.DRAFT]


class ExportForm(forms.Form):
    procedure = forms.ChoiceField(label=_("手続き"))
    kind = forms.ChoiceField(label=_("種類"), choices=Export.Kind.choices, initial=Export.Kind.ORDINARY)
    # The registered export formats (formats/), the first one offered first.
    format = forms.ChoiceField(label=_("形式"), choices=format_choices, initial="csv_utf8")
    status = forms.ChoiceField(label=_("状態"), choices=STATUS_CHOICES, required=False)
    date_from = forms.DateField(label=_("受付日（から）"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("受付日（まで）"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, procedures=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.procedures = {p.slug: p for p in procedures}
        self.fields["procedure"].choices = [(p.slug, p.title_text) for p in procedures]

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("期間の始まりが終わりより後になっています。"))
        return data
