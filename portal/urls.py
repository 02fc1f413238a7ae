from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from applications.api.views import unknown_path
from portal import views

portal_patterns = (
    [
        path("", views.dashboard, name="dashboard"),
        path("login/", views.LoginView.as_view(), name="login"),
        path("logout/", auth_views.LogoutView.as_view(), name="logout"),
        path("accounts/", views.accounts, name="accounts"),
        path("accounts/new/", views.account_create, name="account-create"),
        path("audit/", views.audit_log, name="audit"),
    ],
    "portal",
)

# The northbound and Developer Center APIs first: Django tries patterns in order, and each include
# that does not match costs its patterns' tries (resolving a command creation behind the portal's
# patterns was a fifth of its CPU in the web process, bench/commands_bench.py). Commands, the busiest
# calls, lead. Their paths (iocm/, iodm/, api/v1/) are none of the portal's.
urlpatterns = [
    path("", include("commands.api.urls")),
    path("", include("devices.api.urls")),
    path("", include("applications.api.urls")),
    path("", include("subscriptions.api.urls")),
    path("", include("firmware.api.urls")),
    path("", include("products.api.urls")),
    path("", include("rules.api.urls")),
    path("", include("ingress.api_urls")),
    # Every other northbound path answers the original's JSON 404, not the portal's HTML page.
    re_path(r"^(?:iocm|iodm)/", unknown_path, name="northbound-unknown"),
    path("", include(portal_patterns)),
    path("apps/", include("applications.urls")),
    path("subscriptions/", include("subscriptions.urls")),
    path("devices/", include("devices.urls")),
    path("commands/", include("commands.urls")),
    path("firmware/", include("firmware.urls")),
    path("rules/", include("rules.urls")),
    path("products/", include("products.urls")),
    path("ingress/", include("ingress.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", views.healthz, name="healthz"),
    path("livez", views.livez, name="livez"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="portal/swagger_ui.html"),
        name="swagger-ui",
    ),
]
