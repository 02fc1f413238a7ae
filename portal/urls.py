from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from portal import views

portal_patterns = (
    [
        path("", views.dashboard, name="dashboard"),
        path("login/", auth_views.LoginView.as_view(template_name="portal/login.html"), name="login"),
        path("logout/", auth_views.LogoutView.as_view(), name="logout"),
        path("accounts/", views.accounts, name="accounts"),
        path("accounts/new/", views.account_create, name="account-create"),
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
    path("", include(portal_patterns)),
    path("apps/", include("applications.urls")),
    path("subscriptions/", include("subscriptions.urls")),
    path("devices/", include("devices.urls")),
    path("commands/", include("commands.urls")),
    path("firmware/", include("firmware.urls")),
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
