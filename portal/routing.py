from django.urls import path

from portal.consumers import DeviceEventsConsumer, LiveEventsConsumer

websocket_urlpatterns = [
    path("ws/events/", LiveEventsConsumer.as_asgi()),
    path("ws/devices/<str:device_id>/", DeviceEventsConsumer.as_asgi()),
]
