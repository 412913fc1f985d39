from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The JSON API for programs: tokens, the writer's data, generation tasks, and the OpenAPI document."""

    name = "api"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import signals  # noqa: F401 - connects the token revocation receiver
