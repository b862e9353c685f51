"""Marks for views: which are public. The tenant walker test reads these marks.

Every view is private unless marked: the walker expects a foreign staff member and an
anonymous user to get 403, 404 or a redirect from it. A public view (the resident portal
before sign-in, health checks) may answer 200, but never with another tenant's private
data.
"""


def public_view(view):
    view.madoguchi_public = True
    return view


def is_public(view) -> bool:
    return getattr(view, "madoguchi_public", False) or getattr(getattr(view, "view_class", None), "madoguchi_public", False)
