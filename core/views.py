import sys

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.crypto import constant_time_compare
from django.views import defaults
from django.views.decorators.cache import never_cache
from django_htmx.http import HttpResponseClientRedirect

from . import timing
from .health import run_checks
from .middleware import UNAVAILABLE, unavailable_response
from .models import Upload
from .refusals import refusal

TOO_LARGE = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)


def may_see_health_details(request) -> bool:
    """Versions and error texts help an attacker; staff and monitors holding HEALTHZ_TOKEN see them."""
    if request.user.is_authenticated and request.user.is_staff:
        return True
    token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return bool(settings.HEALTHZ_TOKEN) and constant_time_compare(token, settings.HEALTHZ_TOKEN)


@never_cache
def healthz(request):
    """200 when the database, pgvector, Redis and a worker are all up; 503 naming what is down."""
    checks = run_checks()
    down = [name for name, result in checks.items() if not result["ok"]]
    body = {"status": "down" if down else "ok", "down": down}
    if may_see_health_details(request):
        body["checks"] = checks
        if settings.REQUEST_TIMING:
            body["timing"] = timing.all_processes()
    return JsonResponse(body, status=503 if down else 200)


def floor(request):
    """The least a request costs here: every middleware, no work. With REQUEST_TIMING on, the load benchmark
    measures the hot paths against it; otherwise it does not exist."""
    if not settings.REQUEST_TIMING:
        raise Http404
    return HttpResponse("ok", content_type="text/plain")


def bad_request(request, exception=None):
    """400 with the reason (a malformed id, a broken form), or 413 for a request over the size limits."""
    if isinstance(exception, TOO_LARGE):
        status = 413
        megabytes = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / (1024 * 1024)
        message = (
            f"This is more than the {megabytes:g} MB the server accepts at once, so nothing was saved. "
            "Split the text into smaller chapters."
        )
    else:
        status = 400
        message = str(exception) if isinstance(exception, BadRequest) and str(exception) else "Malformed request."
    return refusal(request, status, message)


def server_error(request):
    """Django's 500 page, except while the database or Redis is unreachable (a restart, every pooled connection
    busy), which also breaks middleware such as the session's: that is a 503 the editor retries."""
    if isinstance(sys.exc_info()[1], UNAVAILABLE):
        return unavailable_response(request)
    return defaults.server_error(request)


@never_cache
@login_required
def upload_status(request, pk):
    """A file the writer sent, while a worker reads it (the page polls itself); once read, on to what it made
    (with the message, once), or the reason it could not be read."""
    upload = get_object_or_404(Upload.objects.for_user(request.user), pk=pk)
    if upload.status == Upload.Status.DONE and upload.next_url:
        if Upload.objects.filter(pk=upload.pk, announced=False).update(announced=True):
            messages.success(request, upload.message)
        return HttpResponseClientRedirect(upload.next_url) if request.htmx else redirect(upload.next_url)
    template = "uploads/status.html#status" if request.htmx else "uploads/status.html"
    return render(request, template, {"upload": upload})
