from django.urls import path

from . import views, views_programs

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

# Programs (四点半课堂, 幸福餐厅, 夏令营), quick events, people's records and resident cards.
urlpatterns += [
    path("programs/", views_programs.program_list, name="program_list"),
    path("programs/new/", views_programs.program_create, name="program_create"),
    path("programs/<int:pk>/", views_programs.program_detail, name="program_detail"),
    path("programs/<int:pk>/candidates/", views_programs.program_candidates, name="program_candidates"),
    path("programs/<int:pk>/enrol/", views_programs.program_enrol, name="program_enrol"),
    path("programs/<int:pk>/enrolments/<int:enrolment_pk>/end/", views_programs.enrolment_end, name="enrolment_end"),
    path("programs/<int:pk>/sessions/today/", views_programs.session_start, name="session_start"),
    path("programs/<int:pk>/cards/", views_programs.program_cards, name="program_cards"),
    path("programs/<int:pk>/statement/", views_programs.canteen_statement, name="canteen_statement"),
    path("programs/<int:pk>/statement.xlsx", views_programs.canteen_statement_export, name="canteen_statement_export"),
    path("events/new/", views_programs.event_create, name="event_create"),
    path("people/<int:pk>/", views_programs.person_record, name="person_record"),
    path("people/<int:pk>/card/", views_programs.resident_card, name="resident_card"),
    path("<int:pk>/attendance/scan/", views_programs.attendance_scan, name="attendance_scan"),
]
