"""The resident's 引越し page: their 転出 and 転入 and the procedures that usually follow."""

from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from madoguchi.identity.sessions import resident_required

from . import services


@never_cache
@require_safe
@resident_required
def mine(request, code):
    return render(request, "moving/mine.html", services.moves_of_resident(request.resident, request.municipality))
