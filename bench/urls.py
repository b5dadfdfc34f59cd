"""wuzhi's URLs plus /bench/hello/, the ceiling of bench/load_pages.py: a plain Django view behind
the same middleware, with no database query and no template."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from wuzhi.urls import urlpatterns as wuzhi_urlpatterns


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"Hello, world", content_type="text/plain")


urlpatterns = [path("bench/hello/", hello), *wuzhi_urlpatterns]
