from django.urls import path

from . import views

app_name = "deliberation"
urlpatterns = [
    path("", views.topic_list, name="list"),
    path("new/", views.topic_new, name="new"),
    path("from-cases/", views.topic_from_cases, name="from_cases"),
    path("<int:pk>/", views.topic_detail, name="detail"),
    path("<int:pk>/act/", views.topic_act, name="act"),
    path("<int:pk>/merge/", views.topic_merge, name="merge"),
    path("<int:pk>/meeting/", views.meeting_new, name="meeting_new"),
    path("<int:pk>/progress/", views.progress_add, name="progress"),
    path("<int:pk>/households/", views.households, name="households"),
    path("<int:pk>/publish/", views.publish, name="publish"),
    path("meetings/<int:pk>/", views.meeting_detail, name="meeting"),
    path("meetings/<int:pk>/vote/", views.vote_new, name="vote"),
    path("objections/<int:pk>/answer/", views.objection_answer, name="answer"),
    path("bodies/", views.body_list, name="bodies"),
    path("bodies/new/", views.body_edit, name="body_new"),
    path("bodies/<int:pk>/", views.body_edit, name="body_edit"),
]
