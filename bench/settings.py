"""Settings for the page load benchmark (bench/load_pages.py): the production settings with one
extra URL conf, so the same gunicorn processes serve the real pages and a hello-world ceiling.
Never used by a deployment: the hello-world view exists only under this module."""

from wuzhi.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
