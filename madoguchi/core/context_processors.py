def site(request):
    """The municipality of the page (or None) for every template."""
    return {"municipality": getattr(request, "municipality", None)}
