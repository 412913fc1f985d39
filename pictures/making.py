"""The only code that asks for images.

    made = images.make(ImageRequest(prompt, negative, seed, width, height), progress=..., should_cancel=...)

Tries each configured service in turn (pictures/services.py: ComfyUI, an OpenAI-compatible Images API,
Automatic1111), retries one that did not answer, and passes over one that failed recently until its cooldown
ends. With none configured, `how_to_enable()` is what every image control says instead.
"""

import logging
import threading
import time

from django.conf import settings

from pictures.services import (
    Cancelled,
    ImageBadResponse,
    ImageError,
    ImageRequest,
    ImageUnavailable,
    MadeImage,
    configured,
)

__all__ = ["Cancelled", "ImageError", "ImageRequest", "MadeImage", "available", "how_to_enable", "make"]

log = logging.getLogger(__name__)
_down_until: dict[str, float] = {}
_lock = threading.Lock()


def available() -> bool:
    return bool(configured())


def how_to_enable() -> str:
    return (
        "Pictures need an image service: set COMFYUI_URL (ComfyUI), OPENAI_IMAGES_BASE_URL (an OpenAI-compatible "
        "Images API) or A1111_URL (Automatic1111 / SD.Next) and restart. You can upload portraits meanwhile."
    )


def in_order(services):
    """Services that failed lately go last, so a dead one does not delay every picture."""
    now = time.monotonic()
    with _lock:
        return sorted(services, key=lambda s: _down_until.get(str(s), 0) > now)


def mark_down(service):
    with _lock:
        _down_until[str(service)] = time.monotonic() + settings.IMAGE_BACKEND_COOLDOWN


def make(request: ImageRequest, progress=lambda done, total: None, should_cancel=lambda: False) -> MadeImage:
    services = configured()
    if not services:
        raise ImageError(how_to_enable())
    failures = []
    for service in in_order(services):
        for attempt in range(settings.IMAGE_RETRIES + 1):
            try:
                return service.make(request, progress, should_cancel)
            except ImageUnavailable as exc:
                failures.append(str(exc))
                log.warning("Image service failed (attempt %s): %s", attempt + 1, exc)
                if attempt < settings.IMAGE_RETRIES:
                    time.sleep(min(2**attempt, 8))
            except ImageBadResponse as exc:  # asking the same service again would get the same answer
                failures.append(str(exc))
                log.warning("Image service answered badly: %s", exc)
                break
        mark_down(service)
    raise ImageError("No image service made the picture. " + " ".join(dict.fromkeys(failures)))
