from django.apps import AppConfig


class PartyConfig(AppConfig):
    name = "wuzhi.party"
    label = "party"
    verbose_name = "党建引领"

    def ready(self) -> None:
        from . import scope, signals  # noqa: F401  (register relation rules and receivers)
