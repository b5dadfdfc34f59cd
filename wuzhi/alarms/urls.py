from django.urls import path

from . import views

app_name = "alarms"
urlpatterns = [
    path("", views.console_page, name="console"),
    path("feed/", views.feed, name="feed"),
    path("health/", views.health_panel, name="health"),
    path("my/", views.responder_page, name="responder"),
    path("<int:pk>/act/", views.act, name="act"),
    path("<int:pk>/reveal/<str:ref>/", views.reveal, name="reveal"),
    path("devices/", views.device_list, name="devices"),
    path("devices/<int:pk>/", views.device_detail, name="device"),
    path("chains/", views.chain_list, name="chains"),
    path("chains/new/", views.chain_edit, name="chain_new"),
    path("chains/<int:pk>/", views.chain_edit, name="chain_edit"),
]
