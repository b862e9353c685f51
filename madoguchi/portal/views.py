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
    from madoguchi.procedures.models import Procedure

    procedures = []
    for procedure in Procedure.objects.order_by("slug")[:8]:
        version = procedure.current_version()
        if version is not None:
            procedures.append({"slug": procedure.slug, "title": text(version.definition["title"])})
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
