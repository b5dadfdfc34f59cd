from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "wuzhi.reports"
    label = "reports"
    verbose_name = "统计与报表"
