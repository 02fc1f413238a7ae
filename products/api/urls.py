from django.urls import path

from products.api import codec_views, views

urlpatterns = [
    path("api/v1/profiles", views.ProfileListView.as_view(), name="api-profiles"),
    path("api/v1/profiles/<str:profile_id>", views.ProfileView.as_view(), name="api-profile"),
    path("api/v1/profiles/<str:profile_id>/export", views.ProfileExportView.as_view(), name="api-profile-export"),
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
