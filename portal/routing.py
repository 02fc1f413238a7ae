from django.urls import path

from portal.consumers import LiveEventsConsumer

websocket_urlpatterns = [path("ws/events/", LiveEventsConsumer.as_asgi())]
