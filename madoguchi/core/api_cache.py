"""Every answer of the JSON APIs (`/<code>/api/…`: the applications API and the ceremony API)
is `Cache-Control: private, no-store`: they carry a resident's data (drafts, applications,
notices, who is signed in, a ceremony's result), errors included, and no shared or browser
cache may keep them. One decision for every operation, present and future, and for the
answers made outside an operation (an unknown path, a refused municipality)."""

import re

API_PATH = re.compile(r"^/[0-9]{6}/api/")
NO_STORE = "private, no-store"


class ApiNoStoreMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if API_PATH.match(request.path_info):
            response["Cache-Control"] = NO_STORE
        return response
