"""What every API view shares: signing in (a token or the session), the rate limit, reading a JSON body into a
schema, the one way to find the writer's own object (anyone else's is a 404), and the shape of answers and errors."""

import json
from functools import wraps

from django.conf import settings
from django.core.exceptions import BadRequest
from django.http import Http404, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt
from pydantic import BaseModel, RootModel, ValidationError

from core.http import paginate
from core.ratelimit import hit
from core.refusals import refusal, too_many
from stories import access

from .models import ApiToken
from .schema import NO_NUL, PAGE_SIZE


class Refused(Exception):
    """A request the API answers with `status` and the message (and any `extra` fields), from anywhere in a view."""

    status = 400

    def __init__(self, message: str, **extra):
        super().__init__(message)
        self.extra = extra


class Missing(Refused):
    """No such object among the writer's own: a 404 with the message."""

    status = 404


class Conflict(Refused):
    """The request does not fit the object as it is now (it changed since the client read it): a 409."""

    status = 409


class UnsupportedType(Refused):
    status = 415


def owned(queryset, what: str, **lookup):
    """The object `lookup` finds in `queryset` (which already holds only what the writer may see); else a 404
    saying "No such <what>." Every API view finds objects this way."""
    found = queryset.filter(**lookup).first()
    if found is None:
        raise Missing(f"No such {what}.")
    return found


def story_for(request, story_pk, need, what: str = "story"):
    """The story if the caller may do `need` to it (stories.access, as every page asks); else a 404."""
    try:
        return access.story_for(request.user, story_pk, need)
    except (Http404, access.StoryHidden):
        raise Missing(f"No such {what}.") from None


def not_allowed(request, methods):
    response = refusal(request, 405, f"Use {' or '.join(methods)}.")
    response["Allow"] = ", ".join(methods)
    return response


def api_view(methods):
    def decorator(view):
        @csrf_exempt  # enforced below for session-authenticated requests only
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method not in methods:
                return not_allowed(request, methods)
            header = request.headers.get("Authorization", "")
            if header.startswith("Bearer "):
                user = ApiToken.authenticate(header.removeprefix("Bearer ").strip())
                if user is None:
                    return refusal(request, 401, "Invalid or revoked API token.")
                request.user = user
            elif request.user.is_authenticated:
                if request.method not in ("GET", "HEAD", "OPTIONS"):
                    rejected = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
                    if rejected is not None:
                        return refusal(
                            request, 403, "CSRF check failed: send the X-CSRFToken header, or use an API token."
                        )
            else:
                return refusal(request, 401, "Sign in or send an API token (Authorization: Bearer …).")
            retry_after = hit(f"api:user:{request.user.pk}", settings.API_REQUESTS_PER_MINUTE, 60)
            if retry_after is not None:
                return too_many(request, retry_after, f"At most {settings.API_REQUESTS_PER_MINUTE} requests a minute.")
            try:
                return view(request, *args, **kwargs)
            except BadRequest as exc:
                return refusal(request, 400, str(exc))
            except Refused as refused:
                return refusal(request, refused.status, str(refused), **refused.extra)

        return wrapped

    return decorator


def request_data(request) -> dict:
    """The JSON object the request sends; no body at all is an empty one (every field left out)."""
    if not request.body:
        return {}
    if request.content_type != "application/json":
        raise UnsupportedType("Send JSON, with Content-Type: application/json.")
    try:
        data = json.loads(request.body)
    except ValueError:
        raise BadRequest("The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("Send a JSON object.")
    try:  # JSON may spell a lone surrogate ("\ud800"), which is no character and cannot be stored
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeError:
        raise BadRequest("The body holds text that is not valid Unicode.") from None
    return data


def field_of(error: dict, by_kind: bool) -> str:
    """The field an error is about, as the client wrote it (a body chosen by kind names the kind first)."""
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return error["ctx"]["discriminator"].strip("'")
    return ".".join(map(str, error["loc"][1:] if by_kind else error["loc"])) or "body"


def message_of(error: dict) -> str:
    if error["type"] == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") == NO_NUL:
        return "Text cannot hold NUL characters."
    if error["type"] == "union_tag_invalid":
        return f"Choose one of: {error['ctx']['expected_tags']}."
    return error["msg"].removeprefix("Value error, ")


def body(request, model: type[BaseModel]) -> BaseModel:
    """The request's JSON body as `model`; anything else is a 400 naming each wrong field and why."""
    return valid(model, request_data(request))


def query(request, model: type[BaseModel], paged=False) -> BaseModel:
    """The query string as `model` (each parameter once); anything else is a 400 naming each wrong field. A paged
    list reads `page` itself (page_of)."""
    return valid(model, {k: v for k, v in request.GET.items() if not (paged and k == "page")})


def valid(model: type[BaseModel], data: dict) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        by_kind = issubclass(model, RootModel)
        fields = {field_of(e, by_kind): message_of(e) for e in exc.errors()}
        raise Refused("Invalid request.", fields=fields) from None


def page_of(request, items, out) -> JsonResponse:
    """?page=N of the items, PAGE_SIZE at a time, with the address of the next page."""
    asked = request.GET.get("page", "1")
    if not (asked.isascii() and asked.isdigit() and int(asked) >= 1):
        raise BadRequest("page is a whole number from 1 (past the last page gives the last).")
    page = paginate(request, items, PAGE_SIZE)
    following = f"{request.path}?page={page.next_page_number()}" if page.has_next() else None
    return JsonResponse({
        "count": page.paginator.count, "page": page.number, "pages": page.paginator.num_pages, "next": following,
        "results": [out(item).model_dump(mode="json") for item in page],
    })  # fmt: skip


def answer(model_instance: BaseModel, status=200) -> JsonResponse:
    return JsonResponse(model_instance.model_dump(mode="json"), status=status)
