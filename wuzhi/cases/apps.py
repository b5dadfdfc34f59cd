from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "wuzhi.cases"
    label = "cases"
    verbose_name = "诉求、报事与矛盾纠纷"

    def ready(self) -> None:
        from . import scope  # noqa: F401  (register the relation rule: teams see cases routed to them)
