"""Reading values from requests: a malformed one is a 400 with a message (django.core.exceptions.BadRequest),
never a 500 from deep inside a query."""

import asyncio

from django.core.exceptions import BadRequest
from django.core.paginator import Page, Paginator

# PostgreSQL cannot store NUL in text; a pasted one would otherwise fail the query.
NUL = "\x00"


def parse_id(value, what: str = "id") -> int:
    """A positive integer id from a form or query string."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise BadRequest(f"The {what} must be a number.") from None
    if not 0 < number < 2**63:
        raise BadRequest(f"The {what} is out of range.")
    return number


def optional_id(value, what: str = "id") -> int | None:
    return None if value in (None, "") else parse_id(value, what)


def paginate(request, items, per_page: int) -> Page:
    """One page of a list (?page=N; a missing or malformed number gives the first page, a large one the last)."""
    return Paginator(items, per_page).get_page(request.GET.get("page"))


def text_param(value, limit: int) -> str:
    """Free text from a form or query string: NUL removed, trimmed, at most `limit` characters."""
    return (value or "").replace(NUL, "").strip()[:limit]


async def file_chunks(file, block_size: int = 64 * 1024):
    """Stream an open binary file in blocks, then close it. Under ASGI only an asynchronous iterator is sent as
    it is read; Django would first read a synchronous one into memory whole."""
    try:
        while chunk := await asyncio.to_thread(file.read, block_size):
            yield chunk
    finally:
        file.close()
