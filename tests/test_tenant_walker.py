"""Walks every URL pattern of the project (later issues are covered without editing this).

Each URL is filled in with municipality A's code and with the ids of A's objects, then
requested as an anonymous visitor and as a signed-in administrator of municipality B.
Private views must answer 403, 404 or a redirect; public views may answer, but no
response may contain A's private data. Admin routes carry no municipality code: they
serve the municipality the staff member signed in to, so B's administrator may open
them — and must still find none of A's data.
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from madoguchi.core.access import is_public
from tests.conftest import A_SECRET_DEPARTMENT, A_SECRET_USERNAME

DENIED = {301, 302, 303, 307, 308, 403, 404, 405}
PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def walk(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from walk(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.callback


def fill(route: str, values: dict) -> str | None:
    """A concrete path for a route, or None for a regex route we cannot fill."""
    route = route.lstrip("^").rstrip("$").replace("\\Z", "").replace("\\/", "/")
    if "(?P<" in route:
        # Admin regex routes: app_label / model_name / object_id.
        route = re.sub(r"\(\?P<app_label>[^)]*\)", values["app_label"], route)
        route = re.sub(r"\(\?P<[a-z_]+>[^)]*\)", str(values["id"]), route)
    path = PARAM.sub(lambda m: str(values.get(m.group("name"), values["id"])), route)
    if any(c in path for c in "()[]*+?\\"):
        return None
    return "/" + path


ROUTES = sorted(set(walk()), key=lambda rc: rc[0])


def test_the_walker_sees_the_project():
    routes = [route for route, _ in ROUTES]
    assert any("staff/settings/" in r for r in routes)
    assert any(r.startswith("admin/") for r in routes)
    assert len(routes) > 20


@pytest.fixture
def victim(muni_a, dept_a, admin_a):
    from madoguchi.staff.models import Membership

    membership = Membership.unscoped.get(municipality=muni_a, user=admin_a[0])
    return {"code": muni_a.code, "id": dept_a.pk, "object_id": dept_a.pk, "pk": membership.pk,
            "app_label": "staff"}


@pytest.mark.django_db
@pytest.mark.parametrize("as_who", ["anonymous", "staff_of_b"])
def test_no_route_leaks_municipality_a(client, victim, muni_b, admin_b, as_who):
    if as_who == "staff_of_b":
        from tests.conftest import sign_in

        assert sign_in(client, muni_b, *admin_b).status_code == 302
    failures = []
    for route, view in ROUTES:
        path = fill(route, victim)
        if path is None:
            continue
        for method in ("get", "post"):
            response = getattr(client, method)(path)
            body = response.content.decode(errors="replace") if not response.streaming else ""
            if A_SECRET_DEPARTMENT in body or A_SECRET_USERNAME in body:
                failures.append(f"{method.upper()} {path} leaks A's data ({response.status_code})")
            # Routes without a municipality in the URL (the admin) serve the municipality
            # the staff member signed in to: B's staff may see B's admin, never A's data.
            session_scoped = "<municipality:code>" not in route and as_who == "staff_of_b"
            if not is_public(view) and not session_scoped and response.status_code not in DENIED:
                failures.append(f"{method.upper()} {path} answered {response.status_code} to {as_who}")
    assert not failures, "\n".join(failures)
