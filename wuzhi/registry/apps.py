from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "wuzhi.registry"
    label = "registry"
    verbose_name = "房屋与人口"
