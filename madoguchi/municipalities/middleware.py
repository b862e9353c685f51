from django.http import Http404

from .models import Municipality
from .tenancy import reset_current_municipality, set_current_municipality

# The session key holding the municipality a staff member signed in to.
STAFF_MUNICIPALITY_SESSION_KEY = "staff_municipality_id"


class TenantMiddleware:
    """Puts the municipality of a `/<code>/…` URL in scope for the request.

    The admin site has no code in its URLs; there the scope is the municipality the staff
    member signed in to (its id is in the session), so the admin shows that one only.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.municipality = None
        request._tenant_token = None
        try:
            return self.get_response(request)
        finally:
            if request._tenant_token is not None:
                reset_current_municipality(request._tenant_token)

    def process_view(self, request, view_func, view_args, view_kwargs):
        municipality = None
        code = view_kwargs.get("code")
        if code is not None:
            try:
                municipality = Municipality.objects.get(code=code, is_active=True)
            except Municipality.DoesNotExist:
                raise Http404("unknown municipality") from None
        elif request.resolver_match and request.resolver_match.namespace == "admin":
            municipality_id = request.session.get(STAFF_MUNICIPALITY_SESSION_KEY)
            if municipality_id is not None:
                municipality = Municipality.objects.filter(pk=municipality_id, is_active=True).first()
        if municipality is not None:
            request.municipality = municipality
            request._tenant_token = set_current_municipality(municipality)
        return None
