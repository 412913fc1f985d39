"""Answers that hold for every page: a short outage is a 503 the editor retries, and the security headers."""

import ipaddress
import logging
from functools import lru_cache

from django.conf import settings
from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .refusals import refusal

log = logging.getLogger(__name__)
UNAVAILABLE = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)
RETRY_AFTER_SECONDS = 5
UNAVAILABLE_MESSAGE = (
    "The server is busy or restarting, so this was not done. Nothing you wrote is lost: the editor keeps your text "
    "and tries again."
)


def unavailable_response(request):
    return refusal(request, 503, UNAVAILABLE_MESSAGE, RETRY_AFTER_SECONDS)


class ServiceUnavailableMiddleware:
    """The database or Redis not answering (a restart, every pooled connection busy for DATABASE_POOL_TIMEOUT
    seconds) is a temporary condition: 503 with Retry-After and a plain message, never a 500 page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, UNAVAILABLE):
            log.warning("503 for %s %s: %s", request.method, request.path, exception)
            return unavailable_response(request)
        return None


class ContentSecurityPolicyMiddleware:
    """Pages load scripts, styles and images from this site only (htmx and its extensions are served here), and
    cannot be framed. Django 5.2 has no CSP setting of its own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # django-rq's staff pages carry inline scripts of their own.
        if request.path.startswith("/django-rq/"):
            return response
        if settings.CONTENT_SECURITY_POLICY and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = settings.CONTENT_SECURITY_POLICY
        return response


FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_FORWARDED")


@lru_cache(maxsize=8)
def _networks(proxies: tuple) -> tuple:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def is_trusted_proxy(address: str) -> bool:
    """The address is one of settings.TRUSTED_PROXIES (an address or a network)."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(settings.TRUSTED_PROXIES)))


class ForwardedHeadersMiddleware:
    """What a proxy says about the client (its address, that it came over HTTPS) is believed only from the
    proxies the site names (TRUSTED_PROXIES): from anyone else those headers are removed before anything reads
    them, so a client cannot pick its own address for the per-address limits or pretend to be on HTTPS."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not is_trusted_proxy(request.META.get("REMOTE_ADDR", "")):
            for header in FORWARDED:
                request.META.pop(header, None)
        return self.get_response(request)
