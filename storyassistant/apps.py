from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The project's configuration: settings, URLs, ASGI/WSGI entry points, and the management commands (serve,
    maintenance, health) that start and look after the whole app. It has no models."""

    name = "storyassistant"
    label = "project"  # "storyassistant" is the core app's label (core/apps.py)
    verbose_name = "Story Assistant"
