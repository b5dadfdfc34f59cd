from django.urls import path

from . import views

app_name = "cameras"
urlpatterns = [
    path("", views.camera_list, name="list"),
    path("new/", views.camera_new, name="new"),
    path("public-areas/", views.public_area_list, name="public_areas"),
    path("public-areas/new/", views.public_area_new, name="public_area_new"),
    path("<int:pk>/", views.camera_detail, name="detail"),
    path("<int:pk>/edit/", views.camera_edit, name="edit"),
    path("<int:pk>/consent/", views.consent_new, name="consent_new"),
    path("<int:pk>/stream/", views.stream_reveal, name="stream"),
    path("consents/<int:pk>/withdraw/", views.consent_withdraw, name="consent_withdraw"),
]
