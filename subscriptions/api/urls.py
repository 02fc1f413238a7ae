from django.urls import path

from subscriptions.api import views

urlpatterns = [
    path("iocm/app/sub/v1.2.0/subscriptions", views.SubscriptionsView.as_view(), name="subscriptions"),
    path(
        "iocm/app/sub/v1.2.0/subscriptions/<str:subscription_id>", views.SubscriptionView.as_view(), name="subscription"
    ),
    path("iocm/app/sub/v1.1.0/subscribe", views.LegacySubscribeView.as_view(), name="subscribe-v110"),
    path("iocm/app/sub/v1.2.0/subscribe", views.LegacySubscribeView.as_view(), name="subscribe-v120"),
    path("iodm/app/sub/v1.1.0/subscribe", views.ManagementSubscribeView.as_view(), name="subscribe-management"),
]
