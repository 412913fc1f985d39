from django.apps import AppConfig


class StoryAssistantConfig(AppConfig):
    name = "storyassistant"
    verbose_name = "Accounts"
