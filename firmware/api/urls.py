from django.urls import path

from firmware.api import views

BASE = "iodm/northbound/v1.5.0"

urlpatterns = [
    path(f"{BASE}/category", views.PackagesView.as_view(), name="packages"),
    path(f"{BASE}/category/<str:file_id>", views.PackageView.as_view(), name="package"),
    path(f"{BASE}/operations/firmwareUpgrade", views.CreateOperationView.as_view(operate_type="firmware_upgrade")),
    path(f"{BASE}/operations/softwareUpgrade", views.CreateOperationView.as_view(operate_type="software_upgrade")),
    path(f"{BASE}/operations", views.OperationsView.as_view(), name="operations"),
    path(f"{BASE}/operations/<str:operation_id>", views.OperationView.as_view(), name="operation"),
    path(f"{BASE}/operations/<str:operation_id>/subOperations", views.SubOperationsView.as_view()),
    path("api/v1/firmware-packages", views.UploadView.as_view(), name="upload-package"),
    path("api/v1/firmware-operations/<str:operation_id>/<str:control>", views.OperationControlView.as_view()),
]
