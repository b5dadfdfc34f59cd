from django.urls import path

from . import views

app_name = "employment"
urlpatterns = [
    path("", views.rates, name="rates"),
    path("people/", views.people, name="people"),
    path("people/<int:pk>/", views.person, name="person"),
]
