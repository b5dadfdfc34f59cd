from django.apps import AppConfig


class CamerasConfig(AppConfig):
    name = "wuzhi.cameras"
    label = "cameras"
    verbose_name = "小探头"
