"""Websocket routes; the live generation consumer registers here."""

websocket_urlpatterns = []
