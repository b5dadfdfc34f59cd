from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from wuzhi.cases import api as cases_api
from wuzhi.core import api as core_api
from wuzhi.core import auth as core_auth
from wuzhi.core import views as core_views
from wuzhi.registry import api as registry_api

router = DefaultRouter()
core_api.register(router)
registry_api.register(router)
cases_api.register(router)

urlpatterns = [
    path("", core_views.home, name="home"),
    path("me/", core_views.my_profile, name="my_profile"),
    path("me/password/", core_auth.PasswordChangeView.as_view(), name="password_change"),
    path("me/totp/", core_auth.totp_enrol, name="totp_enrol"),
    path("me/totp/disable/", core_auth.totp_disable_view, name="totp_disable"),
    path("login/", core_auth.LoginView.as_view(), name="login"),
    path("login/code/", core_auth.login_code, name="login_code"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("areas/", include("wuzhi.core.urls")),
    path("registry/", include("wuzhi.registry.urls")),
    path("cases/", include("wuzhi.cases.urls")),
    path("activities/", include("wuzhi.activities.urls")),
    path("reports/", include("wuzhi.reports.urls")),
    path("party/", include("wuzhi.party.urls")),
    path("cameras/", include("wuzhi.cameras.urls")),
    path("deliberation/", include("wuzhi.deliberation.urls")),
    path("p/d/", include("wuzhi.deliberation.portal_urls")),
    path("p/h/", include("wuzhi.honours.public_urls")),
    path("honours/", include("wuzhi.honours.urls")),
    path("employment/", include("wuzhi.employment.urls")),
    path("p/", include("wuzhi.portal.urls")),
    path("alarms/ingest/", include("wuzhi.alarms.urls_ingest")),
    path("alarms/", include("wuzhi.alarms.urls")),
    path("api/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/login/", core_auth.admin_login),  # one login page: throttled, with the two-step code
    path("admin/", admin.site.urls),
]
