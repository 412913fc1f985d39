"""Per-writer and per-address request limits, counted in Redis (fixed windows), answered with 429 and
Retry-After. If Redis is unreachable the request goes through: a cache outage must not lock writers out."""

import logging
import time
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

from .middleware import is_trusted_proxy
from .refusals import too_many

log = logging.getLogger(__name__)


def hit(key: str, limit: int, window: int) -> int | None:
    """Count one request against `key`: None while within `limit` per `window` seconds, else the seconds until
    the window ends."""
    now = time.time()
    cache_key = f"ratelimit:{key}:{int(now // window)}"
    try:
        count = cache.count(cache_key, window + 1)  # one round trip
    except (RedisError, ValueError, OSError):
        log.warning("Rate limit not counted for %s", key, exc_info=True)
        return None
    if count <= limit:
        return None
    return max(1, int(window - now % window + 0.999))


def client_address(request) -> str:
    """The client's address: REMOTE_ADDR, or behind trusted proxies the last address in X-Forwarded-For that is
    not one of them (ForwardedHeadersMiddleware has removed the header from anyone else's requests)."""
    address = request.META.get("REMOTE_ADDR", "")
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        address = hop
        if not is_trusted_proxy(hop):
            break
    return address


def limit(scope: str, setting: str, seconds: int, message: str):
    """Decorate a view: at most settings.<setting> requests per `seconds` per signed-in writer (per address for
    anyone else)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            who = f"user:{request.user.pk}" if request.user.is_authenticated else f"addr:{client_address(request)}"
            retry_after = hit(f"{scope}:{who}", getattr(settings, setting), seconds)
            if retry_after is not None:
                return too_many(request, retry_after, message)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
