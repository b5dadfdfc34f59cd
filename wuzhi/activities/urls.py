from django.urls import path

from . import views

app_name = "activities"
urlpatterns = [
    path("", views.activity_list, name="activity_list"),
    path("new/", views.activity_create, name="activity_create"),
    path("week/", views.week, name="week"),
    path("<int:pk>/", views.activity_detail, name="activity_detail"),
    path("<int:pk>/attendance/", views.attendance, name="attendance"),
    path("<int:pk>/attendance/mark/", views.attendance_mark, name="attendance_mark"),
    path("<int:pk>/attendance/unmark/", views.attendance_unmark, name="attendance_unmark"),
    path("<int:pk>/attendance/search/", views.attendance_search, name="attendance_search"),
    path("<int:pk>/attendance/headcount/", views.attendance_headcount, name="attendance_headcount"),
    path("<int:pk>/attendance/copy/", views.attendance_copy, name="attendance_copy"),
    path("teams/", views.team_list, name="team_list"),
    path("teams/new/", views.team_create, name="team_create"),
    path("teams/<int:pk>/", views.team_detail, name="team_detail"),
    path("teams/<int:pk>/candidates/", views.team_candidates, name="team_candidates"),
    path("teams/<int:pk>/members/", views.member_add, name="member_add"),
    path("teams/<int:pk>/members/<int:member_pk>/leave/", views.member_leave, name="member_leave"),
    path("teams/<int:pk>/care/", views.care_pair, name="care_pair"),
    path("teams/<int:pk>/care/<int:pairing_pk>/end/", views.care_end, name="care_end"),
    path("volunteers/", views.volunteers, name="volunteers"),
    path("volunteers/person/", views.volunteer_detail, name="volunteer_detail"),
    path("volunteers/export.xlsx", views.volunteers_export, name="volunteers_export"),
]
