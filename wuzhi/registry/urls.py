from django.urls import path

from wuzhi.core import views as core_views

from .urls_io import urlpatterns as io_urlpatterns

app_name = "registry"
urlpatterns = [
    path("households/", core_views.home, name="household_list"),
    path("residents/", core_views.home, name="resident_list"),
    path("visits/", core_views.home, name="visit_list"),
    *io_urlpatterns,
]
