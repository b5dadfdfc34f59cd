from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "wuzhi.activities"
    label = "activities"
    verbose_name = "活动与服务队"

    def ready(self) -> None:
        from . import scope  # noqa: F401  (registers the team-member relation rules)
