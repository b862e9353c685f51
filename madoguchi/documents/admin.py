"""The municipality's document settings in the configuration admin: the issuer (発行者)
and the seal image (公印, a PNG re-encoded on upload). Audited like every admin change."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from madoguchi.staff.admin import AuditedAdmin, admin_site

from .models import DocumentProfile
from .seal import SealError, check_seal


class DocumentProfileForm(forms.ModelForm):
    seal = forms.FileField(label=_("公印の画像（PNG）"), required=False,
                           help_text=_("透過PNG、512KBまで、一辺16〜2000ピクセル。文書の発行者名の右に押されます。"))
    remove_seal = forms.BooleanField(label=_("公印の画像を外す"), required=False)

    class Meta:
        model = DocumentProfile
        fields = ["issuer_title"]

    def clean_seal(self):
        upload = self.cleaned_data.get("seal")
        if not upload:
            return None
        try:
            return check_seal(upload.read(512 * 1024 + 1))
        except SealError:
            raise forms.ValidationError(_("PNG画像（512KBまで、一辺16〜2000ピクセル）を選んでください。")) from None

    def save(self, commit=True):
        profile = super().save(commit=False)
        if self.cleaned_data.get("remove_seal"):
            profile.seal_png = None
        elif self.cleaned_data.get("seal"):
            profile.seal_png = self.cleaned_data["seal"]
        if commit:
            profile.save()
        return profile


@admin.register(DocumentProfile, site=admin_site)
class DocumentProfileAdmin(AuditedAdmin):
    form = DocumentProfileForm
    list_display = ["issuer_title", "updated_at"]
    fields = ["issuer_title", "seal", "remove_seal"]

    def has_add_permission(self, request):
        return not DocumentProfile.objects.exists()  # one per municipality

    def has_delete_permission(self, request, obj=None):
        return False
