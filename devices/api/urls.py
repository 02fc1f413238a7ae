from django.urls import path, re_path

from devices.api import views

urlpatterns = [
    path("iocm/app/reg/v1.1.0/deviceCredentials", views.RegisterView.as_view(), name="register"),
    path("iocm/app/reg/v2.0.0/deviceCredentials", views.RegisterPasswordView.as_view(), name="register-password"),
    re_path(r"^iocm/app/reg/v1\.[12]\.0/devices$", views.RegisterView.as_view(), name="register-legacy"),
    path("iocm/app/reg/v1.1.0/deviceCredentials/<str:device_id>", views.CredentialsView.as_view(), name="credentials"),
    path("iocm/app/dm/v1.2.0/devices/ids", views.GroupMembersView.as_view(), name="group-members"),
    path("iocm/app/dm/v1.1.0/devices/addDevGroupTagToDevices", views.GroupTagView.as_view(), name="group-add"),
    path(
        "iocm/app/dm/v1.1.0/devices/deleteDevGroupTagFromDevices",
        views.GroupTagView.as_view(remove=True),
        name="group-remove",
    ),
    re_path(r"^iocm/app/dm/v1\.[1-4]\.0/devices$", views.DevicesView.as_view(), name="devices"),
    re_path(r"^iocm/app/dm/v1\.[1-4]\.0/devices/(?P<device_id>[^/]+)$", views.DeviceView.as_view(), name="device"),
    re_path(r"^iocm/app/data/v1\.[12]\.0/deviceDataHistory$", views.HistoryView.as_view(), name="history"),
    path("iocm/app/data/v1.1.0/deviceCapabilities", views.CapabilitiesView.as_view(), name="capabilities"),
    path("iocm/app/devgroup/v1.3.0/devGroups", views.GroupsView.as_view(), name="groups"),
    path("iocm/app/devgroup/v1.3.0/devGroups/<str:group_id>", views.GroupView.as_view(), name="group"),
]
