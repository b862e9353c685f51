from django.apps import AppConfig


class CertificatesConfig(AppConfig):
    """証明書のオンライン交付: 住民票の写し and 住民票記載事項証明書 issued from the resident
    record as signed PDFs, checkable by anyone on a verification page."""

    name = "madoguchi.certificates"
    label = "certificates"
    verbose_name = "証明書交付"
