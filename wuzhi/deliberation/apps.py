from django.apps import AppConfig


class DeliberationConfig(AppConfig):
    name = "wuzhi.deliberation"
    label = "deliberation"
    verbose_name = "议事协商"

    def ready(self) -> None:
        from . import scope  # noqa: F401  (register the relation rule: body members see their topics)
