from django import forms
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.models import Municipality


class SignInForm(forms.Form):
    username = forms.CharField(label=_("ユーザー名"), max_length=150,
                               widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}))
    password = forms.CharField(label=_("パスワード"), max_length=256, strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    otp_token = forms.RegexField(
        label=_("確認コード（6桁）"), regex=r"^[0-9]{6}$", max_length=6,
        help_text=_("認証アプリに表示されている6桁の数字"),
        error_messages={"invalid": _("確認コードは6桁の数字で入力してください")},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class CodeForm(forms.Form):
    """The second step alone, after a wrong code: the password was right a moment ago."""

    otp_token = SignInForm.base_fields["otp_token"]


class MunicipalitySettingsForm(forms.ModelForm):
    website_url = forms.URLField(label=_("公式ウェブサイト"), required=False, assume_scheme="https")

    class Meta:
        model = Municipality
        fields = ["name", "name_kana", "contact_phone", "contact_email", "website_url", "office_hours",
                  "office_hours_en", "welcome_message", "welcome_message_en"]
        widgets = {"welcome_message": forms.Textarea(attrs={"rows": 4}),
                   "welcome_message_en": forms.Textarea(attrs={"rows": 4})}
        help_texts = {"office_hours_en": _("英語で表示する方に見せます。空のときは日本語を表示します。"),
                      "welcome_message_en": _("英語で表示する方に見せます。空のときは日本語を表示します。")}
