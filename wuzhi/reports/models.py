"""The reports app stores nothing of its own: every figure is counted from other apps' rows.

This module exists so that Django sends the app its post_migrate signal (it skips apps without
a models module), which installs the data-version triggers (wuzhi.reports.dataversion)."""
