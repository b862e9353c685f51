from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    """文書: signed PDF documents (受付票, 決定通知) of applications."""

    name = "madoguchi.documents"
    label = "documents"
