"""What every API view shares: signing in (a token or the session), the rate limit, reading a JSON body into a
schema, the one way to find the writer's own object (anyone else's is a 404), and the shape of answers and errors."""

import json
from functools import wraps

from django.conf import settings
from django.core.exceptions import BadRequest
from django.http import JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt
from pydantic import BaseModel, ValidationError

from core.http import paginate
from core.ratelimit import hit, too_many

from .models import ApiToken
from .schema import PAGE_SIZE


class Missing(Exception):
    """No such object among the writer's own: a 404 with the message."""


def owned(queryset, what: str, **lookup):
    """The object `lookup` finds in `queryset` (which already holds only what the writer may see); else a 404
    saying "No such <what>." Every API view finds objects this way."""
    found = queryset.filter(**lookup).first()
    if found is None:
        raise Missing(f"No such {what}.")
    return found


def error(status, message, **extra):
    return JsonResponse({"error": message, **extra}, status=status)


def api_view(methods):
    def decorator(view):
        @csrf_exempt  # enforced below for session-authenticated requests only
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method not in methods:
                return error(405, f"Use {' or '.join(methods)}.")
            header = request.headers.get("Authorization", "")
            if header.startswith("Bearer "):
                user = ApiToken.authenticate(header.removeprefix("Bearer ").strip())
                if user is None:
                    return error(401, "Invalid or revoked API token.")
                request.user = user
            elif request.user.is_authenticated:
                if request.method not in ("GET", "HEAD", "OPTIONS"):
                    rejected = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
                    if rejected is not None:
                        return error(403, "CSRF check failed: send the X-CSRFToken header, or use an API token.")
            else:
                return error(401, "Sign in or send an API token (Authorization: Bearer …).")
            retry_after = hit(f"api:user:{request.user.pk}", settings.API_REQUESTS_PER_MINUTE, 60)
            if retry_after is not None:
                return too_many(request, retry_after, f"At most {settings.API_REQUESTS_PER_MINUTE} requests a minute.")
            try:
                return view(request, *args, **kwargs)
            except BadRequest as exc:
                return error(400, str(exc))
            except Missing as missing:
                return error(404, str(missing))
            except Invalid as invalid:
                return invalid.response

        return wrapped

    return decorator


def request_data(request) -> dict:
    if request.content_type != "application/json":
        return request.POST.dict()
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        raise BadRequest("The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("Send a JSON object.")
    return data


class Invalid(Exception):
    def __init__(self, response):
        self.response = response


def body(request, model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(request_data(request))
    except ValidationError as exc:
        fields = {".".join(map(str, e["loc"])) or "body": e["msg"] for e in exc.errors()}
        raise Invalid(error(400, "Invalid request.", fields=fields)) from None


def page_of(request, items, out) -> JsonResponse:
    """?page=N of the items, PAGE_SIZE at a time, with the address of the next page."""
    page = paginate(request, items, PAGE_SIZE)
    following = f"{request.path}?page={page.next_page_number()}" if page.has_next() else None
    return JsonResponse({
        "count": page.paginator.count, "page": page.number, "pages": page.paginator.num_pages, "next": following,
        "results": [out(item).model_dump(mode="json") for item in page],
    })  # fmt: skip


def answer(model_instance: BaseModel, status=200) -> JsonResponse:
    return JsonResponse(model_instance.model_dump(mode="json"), status=status)
