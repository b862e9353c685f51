from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from madoguchi.municipalities.middleware import STAFF_MUNICIPALITY_SESSION_KEY

from .models import Membership


def staff_member_required(*roles: str):
    """The view needs a staff member signed in (password + TOTP) to this municipality.

    Anyone else is sent to this municipality's sign-in page; a member without one of
    `roles` (when given) gets 403. The membership is put on `request.membership`.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            municipality = request.municipality
            signed_in_here = (
                request.user.is_authenticated
                and request.user.is_verified()
                and request.session.get(STAFF_MUNICIPALITY_SESSION_KEY) == municipality.pk
            )
            membership = (
                Membership.objects.select_related("department").filter(user=request.user).first()
                if signed_in_here else None
            )
            if membership is None:
                return redirect_to_login(request.get_full_path(), reverse("staff:login", args=[municipality.code]))
            if roles and membership.role not in roles:
                raise PermissionDenied("role")
            request.membership = membership
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
