from django.urls import path

from ingress import views

app_name = "ingress"
urlpatterns = [
    path("simulator/", views.simulator, name="simulator"),
    path("devices/<str:device_id>/<str:action>/", views.lwm2m_execute, name="lwm2m-execute"),
]
