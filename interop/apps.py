from django.apps import AppConfig


class InteropConfig(AppConfig):
    """Everything writers bring or take: manuscripts, character cards, lorebooks, books and backups."""

    name = "interop"
    default_auto_field = "django.db.models.BigAutoField"
