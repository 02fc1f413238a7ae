from django.urls import path

from products.api import views

urlpatterns = [
    path("api/v1/profiles", views.ProfileListView.as_view(), name="api-profiles"),
    path("api/v1/profiles/<str:profile_id>", views.ProfileView.as_view(), name="api-profile"),
    path("api/v1/profiles/<str:profile_id>/export", views.ProfileExportView.as_view(), name="api-profile-export"),
]
