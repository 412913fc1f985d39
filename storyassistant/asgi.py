import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storyassistant.settings")
# Django must be set up before the consumers (and their models) are imported.
django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402

from core.asgi import ReusedThreadsASGIHandler  # noqa: E402

django_asgi_app = ReusedThreadsASGIHandler(threads=settings.WEB_THREADS)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from daphne import http_protocol  # noqa: E402

from agents.services.embeddings import get_model  # noqa: E402
from core.bodylimit import BodyLimit, LimitedRequestMixin  # noqa: E402
from generation.routing import websocket_urlpatterns as task_sockets  # noqa: E402
from stories.routing import websocket_urlpatterns as draft_sockets  # noqa: E402

if settings.EMBEDDINGS_PRELOAD:
    # Searches embed their query in the web process. Loading the model takes seconds of CPU with the interpreter
    # lock held: done before the server listens, no request ever waits behind it.
    get_model()

# Daphne (Twisted) spools a request's whole body before the application sees any of it, and builds each request from
# this module attribute: its requests check the body's size as it arrives, and refuse it before storing it.
if not issubclass(http_protocol.WebRequest, LimitedRequestMixin):
    http_protocol.WebRequest = type("LimitedRequest", (LimitedRequestMixin, http_protocol.WebRequest), {})

application = ProtocolTypeRouter(
    {
        # Bodies over their route's limit are refused before Django reads (and spools) them.
        "http": BodyLimit(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(task_sockets + draft_sockets))),
    }
)
