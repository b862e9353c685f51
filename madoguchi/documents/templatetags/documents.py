from django import template

from madoguchi.documents.models import Document

register = template.Library()

NOTICE_KINDS = {"submitted": Document.Kind.RECEIPT, "approved": Document.Kind.DECISION,
                "rejected": Document.Kind.DECISION, "received": Document.Kind.PAYMENT_RECEIPT}


@register.inclusion_tag("documents/_resident_documents.html", takes_context=True)
def resident_documents(context, application):
    """The signed documents of the resident's application (on its page)."""
    documents = list(Document.objects.filter(application=application).order_by("created_at"))
    return {"documents": documents, "municipality": context.get("municipality"), "a": application}


@register.simple_tag
def notice_document(notice):
    """The document a notice announces (a receipt for 'submitted', a decision), or None."""
    kind = NOTICE_KINDS.get(notice.kind)
    if kind is None or notice.application_id is None:
        return None
    return Document.objects.filter(application_id=notice.application_id, kind=kind).first()
