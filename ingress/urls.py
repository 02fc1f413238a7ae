from django.urls import path

from ingress import views

app_name = "ingress"
urlpatterns = [
    path("simulator/", views.simulator, name="simulator"),
    path("devices/<str:device_id>/lwm2m/", views.lwm2m_operate, name="lwm2m-operate"),
    path("devices/<str:device_id>/lwm2m/<str:operation_id>/", views.lwm2m_operation, name="lwm2m-operation"),
    path("devices/<str:device_id>/<str:action>/", views.lwm2m_execute, name="lwm2m-execute"),
]
