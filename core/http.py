"""Reading values from requests: a malformed one is a 400 with a message (django.core.exceptions.BadRequest),
never a 500 from deep inside a query."""

import asyncio
import tempfile
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import BadRequest
from django.core.paginator import Page, Paginator
from django.http import StreamingHttpResponse
from django.utils.http import url_has_allowed_host_and_scheme

from .bodylimit import UPLOAD_OVERHEAD
from .refusals import refusal

# PostgreSQL cannot store NUL in text; a pasted one would otherwise fail the query.
NUL = "\x00"


def next_url(request) -> str | None:
    """Where a plain form came from (its `next`: a path on this site), to return there; None for anything else."""
    url = request.POST.get("next", "")
    safe = url.startswith("/") and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()})
    return url if safe else None


def without_credentials(url: str) -> str:
    """The URL without the user name and password it may carry: a service's address in a message for the writer
    (or a log) never shows them."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))


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


DOWNLOAD_IN_MEMORY_BYTES = 1024 * 1024


def download(write, filename: str, content_type: str) -> StreamingHttpResponse:
    """Build a download with write(file) into a temporary file (kept in memory only while small), then stream it
    in blocks: an export or a backup is never held in memory whole."""
    out = tempfile.SpooledTemporaryFile(max_size=DOWNLOAD_IN_MEMORY_BYTES)  # noqa: SIM115 - closed by file_chunks
    write(out)
    size = out.tell()
    out.seek(0)
    response = StreamingHttpResponse(file_chunks(out), content_type=content_type)
    response["Content-Length"] = str(size)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def uploaded(request, field: str, limit: int, what: str, choose: str):
    """(the uploaded file, None), or (None, the refusal to answer with): 413 past `limit` bytes, judged on the
    request's length before anything is read and again on the file, 400 when no file was sent."""
    size = f"{limit / 1024 / 1024:.0f} MB" if limit >= 1024 * 1024 else f"{limit / 1024:.0f} KB"
    too_large = f"The {what} is too large; the limit is {size}. Nothing was saved."
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > limit + UPLOAD_OVERHEAD:
        return None, refusal(request, 413, too_large)
    upload = request.FILES.get(field)
    if upload is None:
        return None, refusal(request, 400, f"Choose {choose}.")
    if upload.size > limit:
        return None, refusal(request, 413, too_large)
    return upload, None
