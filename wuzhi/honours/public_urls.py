"""Public pages under /p/h/ (no login): placed before the portal's /p/ in the project urls."""

from django.urls import path

from . import public_views

app_name = "honours_public"
urlpatterns = [
    path("u/<str:unit_code>/", public_views.unit_board, name="unit_board"),
    path("u/<str:unit_code>/nominate/", public_views.nominate, name="nominate"),
    path("<str:code>/", public_views.board, name="board"),
    path("<str:code>/<int:pk>/print/", public_views.printable, name="print"),
    path("<str:code>/<int:pk>/object/", public_views.object_, name="object"),
]
