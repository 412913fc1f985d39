from django.apps import AppConfig


class PicturesConfig(AppConfig):
    name = "pictures"

    def ready(self):
        from . import signals  # noqa: F401 - connects the receiver that removes a deleted picture's files
