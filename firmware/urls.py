from django.urls import path

from firmware import views

app_name = "firmware"

urlpatterns = [
    path("packages/", views.package_list, name="packages"),
    path("tasks/", views.operation_list, name="operations"),
    path("tasks/<str:operation_id>/", views.operation_detail, name="operation"),
    path("tasks/<str:operation_id>/<str:control>/", views.operation_control, name="control"),
]
