from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    """文書: signed PDF documents (受付票, 決定通知) of applications."""

    name = "madoguchi.documents"
    label = "documents"

    def ready(self):
        from madoguchi.applications.transitions import LISTENERS

        from .services import after_transitions

        LISTENERS.register("documents", "the receipt at submission, the decision notice at approval or rejection")(
            after_transitions)
