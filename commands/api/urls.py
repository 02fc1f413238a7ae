from django.urls import path, re_path

from commands.api import shadow, views

urlpatterns = [
    path("iocm/app/cmd/v1.4.0/deviceCommands", views.CommandsView.as_view(), name="commands"),
    path("iocm/app/cmd/v1.4.0/deviceCommands/<str:command_id>", views.CommandView.as_view(), name="command"),
    path("iocm/app/cmd/v1.4.0/deviceCommandCancelTasks", views.CancelTasksView.as_view(), name="cancel-tasks"),
    path("iocm/app/cmd/v1.2.0/devices/<str:device_id>/commands", views.LegacyCreateView.as_view()),
    path("iocm/app/cmd/v1.2.0/queryCmd", views.LegacyQueryView.as_view()),
    path("iocm/app/cmd/v1.2.0/cancelCmd", views.LegacyCancelView.as_view()),
    path("iocm/app/batchtask/v1.1.0/tasks", views.BatchTasksView.as_view(), name="batch-tasks"),
    path("iocm/app/batchtask/v1.1.0/tasks/<str:task_id>", views.BatchTaskView.as_view(), name="batch-task"),
    path("iocm/app/batchtask/v1.1.0/taskDetails", views.BatchTaskDetailsView.as_view(), name="batch-task-details"),
    path("iocm/app/shadow/v1.5.0/devices/<str:device_id>", shadow.ShadowView.as_view(), name="shadow"),
    path("iocm/app/shadow/v1.5.0/deviceDesiredHistory", shadow.DesiredHistoryView.as_view(), name="desired-history"),
    re_path(
        r"^api/v1/delivery-policies/(?P<kind>products|devices)/(?P<key>[^/]+)$",
        views.DeliveryPolicyView.as_view(),
        name="delivery-policy",
    ),
]
