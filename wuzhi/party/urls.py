from django.urls import path

from . import urls_boards, views

app_name = "party"
urlpatterns = [
    path("", views.index, name="index"),
    path("departments/new/", views.department_create, name="department_create"),
    path("cadres/new/", views.cadre_create, name="cadre_create"),
    path("branches/new/", views.branch_create, name="branch_create"),
    path("branches/<int:pk>/", views.branch_detail, name="branch_detail"),
    path("branches/<int:pk>/link/", views.branch_link, name="branch_link"),
    path("branches/<int:pk>/secretary/", views.branch_secretary, name="branch_secretary"),
    path("members/new/", views.member_create, name="member_create"),
    path("members/<int:pk>/", views.member_detail, name="member_detail"),
    path("members/<int:pk>/move/", views.member_move, name="member_move"),
    path("residents/search/", views.resident_search, name="resident_search"),
    path("coverage/", views.coverage, name="coverage"),
    path("coverage/<int:pk>/assign/", views.assign, name="assign"),
    path("pairings/<int:pk>/confirm/", views.pairing_confirm, name="pairing_confirm"),
    path("pairings/<int:pk>/end/", views.pairing_end, name="pairing_end"),
    path("roster/", views.roster_page, name="roster"),
    *urls_boards.urlpatterns,
]
