"""Unit service boards. Included by party/urls.py (app_name "party"), so no app_name here."""

from django.urls import path

from . import views_boards

urlpatterns = [
    path("boards/<int:unit_pk>/", views_boards.board, name="board"),
    path("boards.pdf", views_boards.boards_pdf, name="boards_pdf"),
]
