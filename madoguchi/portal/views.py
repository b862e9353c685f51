from django.shortcuts import render
from django.views.decorators.http import require_GET

from madoguchi.core.access import public_view
from madoguchi.municipalities.models import Municipality


@public_view
@require_GET
def directory(request):
    """The deployment's front page: which municipalities it serves."""
    municipalities = Municipality.objects.filter(is_active=True).order_by("code")
    return render(request, "portal/directory.html", {"municipalities": municipalities})


@public_view
@require_GET
def top(request, code):
    """The municipality's top page: its procedures (the first eight), sign-in, notices."""
    from madoguchi.applications.forms import text
    from madoguchi.procedures.models import ProcedureVersion

    # One query, and only the titles out of the (large) definitions: this page is the busiest.
    published = (ProcedureVersion.objects.filter(status=ProcedureVersion.Status.PUBLISHED)
                 .order_by("procedure__slug").values_list("procedure__slug", "definition__title")[:8])
    procedures = [{"slug": slug, "title": text(title)} for slug, title in published]
    return render(request, "portal/top.html", {"procedures": procedures})


@public_view
@require_GET
def card_login(request, code):
    """The card sign-in entry point: `login`, or `identify` the first time."""
    return render(request, "portal/card_login.html")


@public_view
@require_GET
def notices(request, code):
    return render(request, "portal/notices.html")
