"""The hello-world view of bench/load_pages.py is the benchmark's ceiling only: it lives in
bench/urls.py, which only bench/settings.py names, and is not routed by the production URL conf."""

from __future__ import annotations

import pytest
from django.urls import Resolver404, resolve


def test_production_urls_do_not_serve_the_benchmark_hello_world(settings):
    assert settings.ROOT_URLCONF == "wuzhi.urls"
    with pytest.raises(Resolver404):
        resolve("/bench/hello/")
    with pytest.raises(Resolver404):
        resolve("/bench/hello-user/")
