from django.urls import path

from devices.api import bulk, views

# Every version a client may call; each path is listed, so the schema names each one.
DM_VERSIONS = ("v1.1.0", "v1.2.0", "v1.3.0", "v1.4.0")

urlpatterns = [
    path("iocm/app/reg/v1.1.0/deviceCredentials", views.RegisterView.as_view(), name="register"),
    path("iocm/app/reg/v2.0.0/deviceCredentials", views.RegisterPasswordView.as_view(), name="register-password"),
    *(path(f"iocm/app/reg/{version}/devices", views.RegisterView.as_view()) for version in ("v1.1.0", "v1.2.0")),
    path("iocm/app/reg/v1.1.0/deviceCredentials/<str:device_id>", views.CredentialsView.as_view(), name="credentials"),
    path("iocm/app/dm/v1.2.0/devices/ids", views.GroupMembersView.as_view(), name="group-members"),
    path("iocm/app/dm/v1.1.0/devices/addDevGroupTagToDevices", views.GroupTagView.as_view(), name="group-add"),
    path(
        "iocm/app/dm/v1.1.0/devices/deleteDevGroupTagFromDevices",
        views.GroupTagView.as_view(remove=True),
        name="group-remove",
    ),
    *(path(f"iocm/app/dm/{version}/devices", views.DevicesView.as_view()) for version in DM_VERSIONS),
    *(path(f"iocm/app/dm/{version}/devices/<str:device_id>", views.DeviceView.as_view()) for version in DM_VERSIONS),
    *(
        path(f"iocm/app/data/{version}/deviceDataHistory", views.HistoryView.as_view())
        for version in ("v1.1.0", "v1.2.0")
    ),
    path("iocm/app/data/v1.1.0/deviceCapabilities", views.CapabilitiesView.as_view(), name="capabilities"),
    path("iocm/app/devgroup/v1.3.0/devGroups", views.GroupsView.as_view(), name="groups"),
    path("iocm/app/devgroup/v1.3.0/devGroups/<str:group_id>", views.GroupView.as_view(), name="group"),
    path(
        "iocm/app/location/v1.1.0/queryDeviceRealtimeLocation",
        views.RealtimeLocationView.as_view(),
        name="realtime-location",
    ),
    # Developer Center: bulk registration (OceanConnect had it only in its portal, F-4.4).
    path("api/v1/bulk-registrations", bulk.BulkRegistrationsView.as_view(), name="api-bulk-registrations"),
    path("api/v1/bulk-registrations/<str:job_id>", bulk.BulkRegistrationView.as_view(), name="api-bulk-registration"),
    path("api/v1/bulk-registrations/<str:job_id>/start", bulk.BulkRegistrationStartView.as_view()),
    path("api/v1/bulk-registrations/<str:job_id>/report", bulk.BulkRegistrationReportView.as_view()),
]
