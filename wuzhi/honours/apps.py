from django.apps import AppConfig


class HonoursConfig(AppConfig):
    name = "wuzhi.honours"
    label = "honours"
    verbose_name = "模范评选与光荣榜"

    def ready(self) -> None:
        from . import scope  # noqa: F401  (grid workers see the rounds of their community)
