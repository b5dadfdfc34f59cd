from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "wuzhi.core"
    label = "core"
    verbose_name = "基础"
