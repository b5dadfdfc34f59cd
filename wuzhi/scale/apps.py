from django.apps import AppConfig


class ScaleConfig(AppConfig):
    name = "wuzhi.scale"
    label = "scale"
    verbose_name = "城市规模数据"
