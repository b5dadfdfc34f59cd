from django.urls import path

from . import views

app_name = "core"
urlpatterns = [
    path("", views.area_tree, name="area_tree"),
    path("<int:pk>/", views.area_detail, name="area"),
    path("<int:pk>/children/new/", views.area_add_child, name="area_add_child"),
    path("<int:pk>/edit/", views.area_edit, name="area_edit"),
    path("<int:pk>/dwellings/new/", views.dwelling_add, name="dwelling_add"),
    path("<int:pk>/grants/", views.area_grants, name="area_grants"),
]
