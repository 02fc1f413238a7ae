from django.urls import path

from ingress import api_views

urlpatterns = [
    path("api/v1/devices/<str:device_id>/lwm2m", api_views.ManagementView.as_view(), name="api-lwm2m-operations"),
    path(
        "api/v1/devices/<str:device_id>/lwm2m/bootstrap", api_views.BootstrapView.as_view(), name="api-lwm2m-bootstrap"
    ),
    path(
        "api/v1/devices/<str:device_id>/lwm2m/<str:operation_id>",
        api_views.OperationView.as_view(),
        name="api-lwm2m-operation",
    ),
]
