from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"

    def ready(self):
        from . import signals  # noqa: F401 - connects the token revocation receiver
