import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storyassistant.settings")
# Django must be set up before the consumers (and their models) are imported.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from agents.embeddings import get_model  # noqa: E402
from generation.routing import websocket_urlpatterns  # noqa: E402

if settings.EMBEDDINGS_PRELOAD:
    # Searches embed their query in the web process. Loading the model takes seconds of CPU with the interpreter
    # lock held: done before the server listens, no request ever waits behind it.
    get_model()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
