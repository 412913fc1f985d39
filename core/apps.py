from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The shared plumbing under every app: the user model, uploads, request helpers, queues, rate limits, cache."""

    name = "core"
    # The label the user and upload tables and their migrations were made under, when this code lived in the project
    # package: keeping it lets every existing install upgrade in place (AUTH_USER_MODEL cannot change label).
    label = "storyassistant"
    verbose_name = "Accounts"
