from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "wuzhi.demo"
    label = "demo"
