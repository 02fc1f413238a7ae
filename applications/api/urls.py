from django.urls import path

from applications.api import views

urlpatterns = [
    path("iocm/app/sec/v1.1.0/login", views.LoginView.as_view(), name="login"),
    path("iocm/app/sec/v1.1.0/refreshToken", views.RefreshTokenView.as_view(), name="refresh-token"),
    path("iocm/app/sec/v1.1.0/logout", views.LogoutView.as_view(), name="logout"),
    path("iocm/app/am/v1.1.0/applications/<str:app_id>", views.ApplicationView.as_view(), name="application"),
]
