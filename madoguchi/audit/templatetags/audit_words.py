from django import template

from madoguchi.audit.sentences import sentence

register = template.Library()


@register.filter
def audit_sentence(action):
    """An audit action code as a sentence (「職員がログインしました」)."""
    return sentence(str(action or ""))
