from django.apps import AppConfig


class AlarmsConfig(AppConfig):
    name = "wuzhi.alarms"
    label = "alarms"
    verbose_name = "智治·一键呼叫"
    default_auto_field = "django.db.models.BigAutoField"
