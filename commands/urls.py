from django.urls import path

from commands import views

app_name = "commands"

urlpatterns = [
    path("", views.command_list, name="list"),
    path("simulator/", views.simulator, name="simulator"),
    path("tasks/", views.task_list, name="tasks"),
    path("delivery/product/<uuid:product_id>/", views.product_delivery, name="product-delivery"),
    path("delivery/device/<str:device_id>/", views.device_delivery, name="device-delivery"),
    path("<str:command_id>/", views.command_detail, name="detail"),
    path("<str:command_id>/cancel/", views.command_cancel, name="cancel"),
]
