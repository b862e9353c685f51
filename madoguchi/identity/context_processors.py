def resident(request):
    """The signed-in resident of this municipality (or None) for the header of every page.

    Reads the session only when it holds a resident sign-in (sessions.current), so a
    visitor's page costs no query."""
    from . import sessions

    if getattr(request, "municipality", None) is None or sessions.KEY not in getattr(request, "session", {}):
        return {"signed_in_resident": None}
    signed_in = sessions.current(request)
    return {"signed_in_resident": signed_in[0] if signed_in else None}
