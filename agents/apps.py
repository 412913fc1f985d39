from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "agents"
    verbose_name = "Agents and story memory"

    def ready(self):
        from agents import signals  # noqa: F401 - connects the memory-sync receivers
