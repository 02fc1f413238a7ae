from django.urls import path

from subscriptions import views

app_name = "subscriptions"

urlpatterns = [
    path("", views.subscription_list, name="list"),
    path("<str:subscription_id>/delete/", views.subscription_delete, name="delete"),
    path("targets/<int:target_id>/lift/", views.target_lift, name="target-lift"),
    path("pushes/", views.push_log, name="push-log"),
    path("pushes/<int:push_id>/", views.push_detail, name="push-detail"),
    path("pushes/<int:push_id>/redeliver/", views.push_redeliver, name="push-redeliver"),
    path("debug/", views.debug, name="debug"),
]
