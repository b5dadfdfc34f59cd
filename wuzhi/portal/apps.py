from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "wuzhi.portal"
    label = "portal"
