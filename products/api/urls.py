from django.urls import path

from products.api import codec_views, lwm2m_views, views

urlpatterns = [
    path("api/v1/profiles", views.ProfileListView.as_view(), name="api-profiles"),
    path("api/v1/profiles/<str:profile_id>", views.ProfileView.as_view(), name="api-profile"),
    path("api/v1/profiles/<str:profile_id>/export", views.ProfileExportView.as_view(), name="api-profile-export"),
    path("api/v1/profiles/<str:profile_id>/lwm2m", lwm2m_views.ProfileLwm2mView.as_view(), name="api-profile-lwm2m"),
    path("api/v1/lwm2m/objects", lwm2m_views.RegistryView.as_view(), name="api-lwm2m-objects"),
    path("api/v1/lwm2m/objects/<int:object_id>", lwm2m_views.RegistryObjectView.as_view(), name="api-lwm2m-object"),
    path("api/v1/codecs", codec_views.CodecListView.as_view(), name="api-codecs"),
    path("api/v1/codecs/<str:codec_id>", codec_views.CodecView.as_view(), name="api-codec"),
    path("api/v1/codecs/<str:codec_id>/decode", codec_views.DecodeView.as_view(), name="api-codec-decode"),
    path("api/v1/codecs/<str:codec_id>/encode", codec_views.EncodeView.as_view(), name="api-codec-encode"),
    path(
        "api/v1/codecs/<str:codec_id>/versions/<int:number>",
        codec_views.CodecVersionView.as_view(),
        name="api-codec-version",
    ),
    path(
        "api/v1/codecs/<str:codec_id>/versions/<int:number>/activate",
        codec_views.CodecActivateView.as_view(),
        name="api-codec-activate",
    ),
]
