from django.urls import path

from . import portal_views, views

app_name = "cases"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("new/", views.case_new, name="new"),
    path("board/", views.board, name="board"),
    path("stats/", views.stats, name="stats"),
    path("patrols/", views.patrols, name="patrols"),
    path("categories/", views.categories, name="categories"),
    path("categories/new/", views.category_edit, name="category_new"),
    path("categories/<int:pk>/", views.category_edit, name="category_edit"),
    path("<int:pk>/", views.case_detail, name="detail"),
    path("<int:pk>/act/", views.case_act, name="act"),
    path("<int:pk>/review/", views.case_review, name="review"),
    path("<int:pk>/merge/", views.case_merge, name="merge"),
    path("<int:pk>/dispute/", views.dispute_intake, name="dispute_intake"),
    path("<int:pk>/dispute/mediation/", views.mediation_add, name="mediation_add"),
    path("<int:pk>/dispute/conclude/", views.dispute_conclude, name="dispute_conclude"),
    path("<int:pk>/dispute/follow-up/", views.followup_add, name="followup_add"),
    path("<int:pk>/dispute/agreement.docx", views.agreement, name="agreement"),
    # Resident side: no login.
    path("p/u/<str:unit_code>/new/", portal_views.report, name="portal_report"),
    path("p/track/", portal_views.track, name="portal_track"),
    path("p/c/<str:number>/", portal_views.case_status, name="portal_case"),
    path("p/c/<str:number>/rate/", portal_views.rate, name="portal_rate"),
]
