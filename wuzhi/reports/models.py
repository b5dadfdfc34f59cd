"""The reports app counts its figures from other apps' rows; the one table it keeps is the
rollup of the additive ones (wuzhi.reports.rollup), rebuilt from those rows by `wuzhi rollup`.

(Having a models module also makes Django send the app its post_migrate signal, which installs
the data-version triggers, wuzhi.reports.dataversion.)"""

from django.db import models


class Rollup(models.Model):
    """The sums of one source of rows (households, residents, cases, activities) for an area's
    whole subtree and one month: `data` maps the group's dimensions, joined by "|", to its sums.
    `month` is NULL for a stock (what is on the register at `rebuilt_at`) and the path "/" is the
    whole platform (the city). Written only by wuzhi.reports.rollup.rebuild."""

    path = models.CharField(max_length=255)
    source = models.CharField(max_length=32)
    month = models.DateField(null=True, blank=True)
    data = models.JSONField(default=dict)
    # The first month the rebuild counted: an earlier period is counted live.
    since = models.DateField()
    rebuilt_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["path", "source", "month"], name="reports_rollup_path")]

    def __str__(self) -> str:
        return f"{self.path} {self.source} {self.month or '存量'}"
