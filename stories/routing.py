from django.urls import path

from .consumers import DraftConsumer

# y-websocket clients join "<server url>/<room>": the room is the chapter's id.
websocket_urlpatterns = [
    path("ws/stories/<int:story_pk>/chapters/<int:pk>", DraftConsumer.as_asgi()),
]
