"""wuzhi's URLs plus the two reference views of bench/load_pages.py, behind the same middleware:
/bench/hello/, the ceiling (no database query, no template), and /bench/hello-user/, what every
signed-in page pays before its own work (the session, the user and their grants are read) —
the floor under any staff page."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import path

from wuzhi.core.scoping import grants_of
from wuzhi.urls import urlpatterns as wuzhi_urlpatterns


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"Hello, world", content_type="text/plain")


@login_required
def hello_user(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"Hello, {len(grants_of(request.user))}".encode(), content_type="text/plain")


urlpatterns = [path("bench/hello/", hello), path("bench/hello-user/", hello_user), *wuzhi_urlpatterns]
