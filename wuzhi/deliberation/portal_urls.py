"""Resident and public pages, no login (mounted under /p/d/)."""

from django.urls import path

from . import portal_views

app_name = "delib_portal"
urlpatterns = [
    path("u/<str:unit_code>/", portal_views.unit_home, name="unit"),
    path("u/<str:unit_code>/propose/", portal_views.propose, name="propose"),
    path("track/", portal_views.track, name="track"),
    path("t/<str:number>/", portal_views.topic_status, name="topic"),
    path("board/<str:community_code>/", portal_views.board, name="board"),
    path("board/<str:community_code>/print/", portal_views.board_print, name="board_print"),
    path("n/<int:pk>/", portal_views.notice, name="notice"),
    path("n/<int:pk>/print/", portal_views.notice_print, name="notice_print"),
    path("n/<int:pk>/object/", portal_views.object_submit, name="object"),
]
