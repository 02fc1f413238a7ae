from django.urls import path

from rules import views

app_name = "rules"
urlpatterns = [
    path("", views.rule_list, name="list"),
    path("new/", views.rule_editor, name="new"),
    path("alarms/", views.alarm_console, name="alarms"),
    path("alarms/bulk/", views.alarm_bulk, name="alarm-bulk"),
    path("alarms/tile/", views.alarm_tile, name="alarm-tile"),
    path("<str:rule_id>/", views.rule_detail, name="detail"),
    path("<str:rule_id>/edit/", views.rule_editor, name="edit"),
    path("<str:rule_id>/evaluations/", views.rule_evaluations, name="evaluations"),
    path("<str:rule_id>/status/", views.rule_status, name="status"),
    path("<str:rule_id>/delete/", views.rule_delete, name="delete"),
]
