from django.urls import path

from wuzhi.core import views as core_views

urlpatterns = [
    path("import/", core_views.home, name="import"),
]
