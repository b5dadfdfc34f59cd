from django.urls import path

from . import views_io

urlpatterns = [
    path("import/", views_io.import_page, name="import"),
    path("import/template.xlsx", views_io.import_template, name="import_template"),
    path("import/<uuid:pk>/", views_io.import_job, name="import_job"),
    path("import/<uuid:pk>/status/", views_io.import_job_status, name="import_job_status"),
    path("import/<uuid:pk>/errors.xlsx", views_io.import_errors, name="import_errors"),
    path("export/residents.xlsx", views_io.export_residents, name="export_residents"),
    path("export/households.xlsx", views_io.export_households, name="export_households"),
]
