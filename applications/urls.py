from django.urls import path

from applications import views

app_name = "applications"

urlpatterns = [
    path("", views.application_list, name="list"),
    path("new/", views.application_create, name="create"),
    path("pick/", views.application_pick, name="pick"),
    path("<str:app_id>/", views.application_detail, name="detail"),
    path("<str:app_id>/edit/", views.application_edit, name="edit"),
    path("<str:app_id>/reset-secret/", views.application_reset_secret, name="reset-secret"),
    path("<str:app_id>/members/", views.member_add, name="member-add"),
    path("<str:app_id>/members/<int:user_id>/remove/", views.member_remove, name="member-remove"),
]
