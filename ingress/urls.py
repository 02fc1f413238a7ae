from django.urls import path

from ingress import views

app_name = "ingress"
urlpatterns = [
    path("simulator/", views.simulator, name="simulator"),
]
