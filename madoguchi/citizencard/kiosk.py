"""What every kiosk page of a card terminal shares (the gate, the library's self-checkout):
the local agent's address, taken from `?agent=PORT`, and a page that may call that agent
and nothing else."""

from django.http import HttpResponseBadRequest
from django.shortcuts import render
from django.utils.translation import gettext as _

AGENT_PORT = 8765  # madoguchi terminal run's default --port


def render_kiosk(request, template: str, context: dict):
    """The kiosk page with `agent` (http://127.0.0.1:PORT) in its context and in its CSP's
    connect-src; 400 with a message when `?agent=` is not a usable port."""
    try:
        port = int(request.GET.get("agent") or AGENT_PORT)
    except ValueError:
        port = 0
    if not 1024 <= port <= 65535:
        return HttpResponseBadRequest(_("agent には端末のエージェントのポート番号（1024〜65535）を指定してください。"),
                                      content_type="text/plain; charset=utf-8")
    agent = f"http://127.0.0.1:{port}"
    response = render(request, template, {**context, "agent": agent})
    response._csp_update = {"connect-src": [agent]}  # the page may call its agent, nothing else
    return response
