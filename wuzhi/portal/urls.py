from django.urls import path

from . import views

app_name = "portal"
urlpatterns = [
    # The code is the unit's area code (its path without separators): what the QR on the unit's
    # board encodes, so a printed board keeps working as long as the tree keeps its codes.
    path("u/<str:code>/", views.unit, name="unit"),
]
