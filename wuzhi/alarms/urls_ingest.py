from django.urls import path

from . import ingest_http

app_name = "alarms_ingest"

urlpatterns = [
    path("", ingest_http.receive, name="receive"),
]
