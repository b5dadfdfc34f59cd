from django.urls import path

from . import views

app_name = "reports"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("report.docx", views.report_docx, name="report_docx"),
    path("report.pdf", views.report_pdf, name="report_pdf"),
    path("tables.xlsx", views.tables_xlsx, name="tables_xlsx"),
]
