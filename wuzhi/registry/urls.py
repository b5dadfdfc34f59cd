from django.urls import path

from . import views
from .urls_io import urlpatterns as io_urlpatterns

app_name = "registry"
urlpatterns = [
    path("households/", views.household_list, name="household_list"),
    path("households/new/", views.household_create, name="household_create"),
    path("households/<int:pk>/", views.household_detail, name="household_detail"),
    path("households/<int:pk>/edit/", views.household_edit, name="household_edit"),
    path("households/<int:pk>/members/new/", views.resident_create, name="resident_create"),
    path("households/<int:pk>/visit/", views.visit_create, name="visit_create"),
    path("residents/", views.resident_list, name="resident_list"),
    path("residents/<int:pk>/", views.resident_detail, name="resident_detail"),
    path("residents/<int:pk>/edit/", views.resident_edit, name="resident_edit"),
    path("residents/<int:pk>/reveal/<str:field>/", views.reveal, name="reveal"),
    path("residents/<int:pk>/personal-data/", views.resident_privacy_export, name="resident_privacy_export"),
    path("access-log/", views.access_log, name="access_log"),
    path("residents/<int:pk>/tags/<int:tag_pk>/confirm/", views.tag_confirm, name="tag_confirm"),
    path("visits/", views.visit_list, name="visit_list"),
    path("visits/overdue/", views.overdue, name="overdue"),
    path("buildings/<int:area_pk>/", views.building, name="building"),
    *io_urlpatterns,
]
