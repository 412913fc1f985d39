"""One way to refuse a request, for every view and every kind of client: a full queue, a rate limit, a bad or too
large request, a missing object, a short outage.

- the JSON API (and any client asking for JSON): {"error": message, ...} with the status;
- htmx: the message as text with `HX-Reswap: none`, so nothing on the page is replaced, and an HX-Trigger
  `refused` event that static/js/app.js shows in the page's alert region;
- a browser's own request (a form sent, a link followed): a page with the app's navigation, the message and a
  way back;
- anything else (a script, a test's client asking for text): the message as plain text.

Retry-After goes with every answer worth trying again (429, 503)."""

import json

from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import defaults


def wants_json(request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def refusal(request, status: int, message: str, retry_after: int | None = None, **extra):
    body = {"error": message} | ({"retry_after": retry_after} if retry_after is not None else {}) | extra
    if wants_json(request):
        response = JsonResponse(body, status=status)
    elif "text/html" in request.headers.get("Accept", "") and not request.headers.get("HX-Request"):
        response = HttpResponse(page(request, status, message, retry_after), status=status)
    else:
        response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
        if request.headers.get("HX-Request"):
            response["HX-Trigger"] = json.dumps({"refused": {"message": message, "status": status}})
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    response["HX-Reswap"] = "none"
    return response


def page(request, status: int, message: str, retry_after: int | None) -> str:
    """The refusal as a page of the app: its navigation, the reason, and a way back to where the writer was."""
    back = request.headers.get("Referer", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = ""
    context = {"status": status, "message": message, "retry_after": retry_after, "back": back}
    return render_to_string("refused.html", context, request=request)


def too_many(request, retry_after: int, message: str):
    return refusal(request, 429, message, retry_after)


def not_found(request, exception=None):
    """A missing object, or another writer's: the API's JSON 404 with the reason, Django's page otherwise."""
    if wants_json(request):
        reason = str(exception.args[0]) if exception and exception.args and isinstance(exception.args[0], str) else ""
        return refusal(request, 404, reason or "Not found, or not yours.")
    return defaults.page_not_found(request, exception)
