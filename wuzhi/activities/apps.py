from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "wuzhi.activities"
    label = "activities"
    verbose_name = "活动与服务队"
