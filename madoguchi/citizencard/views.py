"""Resident portal list, JSON export of the catalog, back-office toggle. Thin: services do it."""

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from madoguchi.staff.decorators import staff_member_required
from madoguchi.staff.models import Membership

from . import services


def portal(request, code):
    return render(request, "citizencard/portal.html", {"services": services.enabled_services()})


def export(request, code):
    response = JsonResponse(services.export(), json_dumps_params={"ensure_ascii": False})
    response["Access-Control-Allow-Origin"] = "*"  # public catalog, no credentials
    return response


@never_cache
@staff_member_required(Membership.Role.ADMINISTRATOR)
def staff(request, code):
    status = 200
    if request.method == "POST":
        key, on = request.POST.get("key", ""), request.POST.get("enabled") == "1"
        try:
            services.set_enabled(request.user, key, on)
        except services.CitizenCardError as exc:
            messages.error(request, exc.message)
            status = 400
        else:
            messages.success(request, _("市民カードのサービスの設定を保存しました。"))
            return redirect(request.path)
    keys = services.enabled_keys()
    rows = [(s, s.key in keys) for s in services.all_services()]
    return render(request, "citizencard/staff.html", {"rows": rows}, status=status)
