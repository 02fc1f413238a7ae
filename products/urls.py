from django.urls import include, path

from products import codec_views, lwm2m_views, views

app_name = "products"

# The editor addresses a service by its position in serviceTypeCapabilities, and properties,
# commands, responses and paras by their position in their lists; forms carry the product's
# revision, so a position that moved under another editor's change is refused, not misapplied.
para_patterns = [
    path("paras/new/", views.para_form, name="para-add"),
    path("paras/<int:index>/", views.para_form, name="para-edit"),
    path("paras/<int:index>/delete/", views.para_delete, name="para-delete"),
]
response_patterns = [
    path("new/", views.response_form, name="response-add"),
    path("<int:response>/", views.response_form, name="response-edit"),
    path("<int:response>/delete/", views.response_delete, name="response-delete"),
    path("<int:response>/paras/new/", views.para_form, name="response-para-add"),
    path("<int:response>/paras/<int:index>/", views.para_form, name="response-para-edit"),
    path("<int:response>/paras/<int:index>/delete/", views.para_delete, name="response-para-delete"),
]
command_patterns = [
    path("new/", views.command_form, name="command-add"),
    path("<int:command>/", views.command_form, name="command-edit"),
    path("<int:command>/delete/", views.command_delete, name="command-delete"),
    path("<int:command>/", include(para_patterns)),
    path("<int:command>/responses/", include(response_patterns)),
]
service_patterns = [
    path("new/", views.service_form, name="service-add"),
    path("<int:service>/", views.service_form, name="service-edit"),
    path("<int:service>/delete/", views.service_delete, name="service-delete"),
    path("<int:service>/properties/new/", views.property_form, name="property-add"),
    path("<int:service>/properties/<int:index>/", views.property_form, name="property-edit"),
    path("<int:service>/properties/<int:index>/delete/", views.property_delete, name="property-delete"),
    path("<int:service>/commands/", include(command_patterns)),
]

codec_patterns = [
    path("", codec_views.codec_detail, name="codec"),
    path("upload/", codec_views.codec_upload, name="codec-upload"),
    path("builder/", codec_views.codec_builder, name="codec-builder"),
    path("debug/", codec_views.codec_debug, name="codec-debug"),
    path("delete/", codec_views.codec_delete, name="codec-delete"),
    path("ports/", codec_views.codec_ports, name="codec-ports"),
    path("versions/<int:number>/", codec_views.codec_version, name="codec-version"),
    path("versions/<int:number>/activate/", codec_views.codec_activate, name="codec-activate"),
    path("versions/<int:number>/delete/", codec_views.codec_version_delete, name="codec-version-delete"),
]

urlpatterns = [
    path("", views.product_list, name="list"),
    path("codecs/", codec_views.codec_list, name="codecs"),
    path("new/", views.product_create, name="create"),
    path("pick/", views.product_pick, name="pick"),
    path("upload/", views.product_upload, name="upload"),
    path("<uuid:product_id>/", views.product_detail, name="detail"),
    path("<uuid:product_id>/edit/", views.product_edit, name="edit"),
    path("<uuid:product_id>/replace/", views.product_replace, name="replace"),
    path("<uuid:product_id>/export/", views.product_export, name="export"),
    path("<uuid:product_id>/delete/", views.product_delete, name="delete"),
    path("<uuid:product_id>/lwm2m-gateway/", views.product_lwm2m_gateway, name="lwm2m-gateway"),
    path("<uuid:product_id>/lwm2m/", lwm2m_views.lwm2m_mapping, name="lwm2m"),
    path("<uuid:product_id>/lwm2m/pick/", lwm2m_views.lwm2m_pick, name="lwm2m-pick"),
    path("<uuid:product_id>/services/", include(service_patterns)),
    path("<uuid:product_id>/codec/", include(codec_patterns)),
]
