from django.urls import path

from commands import views

app_name = "commands"

urlpatterns = [
    path("", views.command_list, name="list"),
    path("simulator/", views.simulator, name="simulator"),
    path("tasks/", views.task_list, name="tasks"),
    path("<str:command_id>/", views.command_detail, name="detail"),
    path("<str:command_id>/cancel/", views.command_cancel, name="cancel"),
]
