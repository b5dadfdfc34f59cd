from django.urls import path

from . import views

app_name = "honours"
urlpatterns = [
    path("", views.index, name="index"),
    path("rounds/<int:pk>/", views.round_detail, name="round"),
    path("rounds/<int:pk>/advance/", views.round_advance, name="advance"),
    path("rounds/<int:pk>/nominate/", views.nominate, name="nominate"),
    path("nominations/<int:pk>/", views.nomination_detail, name="nomination"),
    path("objections/<int:pk>/answer/", views.objection_answer, name="answer"),
    path("households/<int:pk>/", views.household_history, name="household_history"),
    path("buildings/<int:pk>/", views.building_history, name="building_history"),
]
