from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ReportsConfig(AppConfig):
    name = "wuzhi.reports"
    label = "reports"
    verbose_name = "统计与报表"

    def ready(self) -> None:
        # After every migrate (all apps' tables exist by then): watch every table, including
        # tables that migration just created or rebuilt.
        post_migrate.connect(_install_version_triggers, sender=self, dispatch_uid="wuzhi_reports_data_version")


def _install_version_triggers(sender: AppConfig, using: str = "default", **kwargs: object) -> None:
    from . import dataversion

    dataversion.install(using)
