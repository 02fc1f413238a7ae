from django.urls import path

from rules.api import views

urlpatterns = [
    path("iocm/app/rule/v1.2.0/rules", views.RulesView.as_view(), name="rules"),
    path("iocm/app/rule/v1.2.0/rules/status", views.RuleStatusesView.as_view(), name="rules-status"),
    path("iocm/app/rule/v1.2.0/rules/<str:rule_id>", views.RuleView.as_view(), name="rule"),
    path(
        "iocm/app/rule/v1.2.0/rules/<str:rule_id>/status/<str:rule_status>",
        views.RuleStatusView.as_view(),
        name="rule-status",
    ),
    path("api/v1/alarms", views.AlarmsView.as_view(), name="api-alarms"),
    path(
        "api/v1/alarms/acknowledge",
        views.AlarmOperationView.as_view(operation="acknowledge"),
        name="api-alarms-acknowledge",
    ),
    path("api/v1/alarms/clear", views.AlarmOperationView.as_view(operation="clear"), name="api-alarms-clear"),
]
