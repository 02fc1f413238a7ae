from django.urls import path

from devices import views

app_name = "devices"

urlpatterns = [
    path("", views.device_list, name="list"),
    path("export.csv", views.device_export, name="export"),
    path("pick/", views.device_pick, name="pick"),
    path("register/", views.device_register, name="register"),
    path("groups/", views.group_list, name="groups"),
    path("replay/<uuid:product_id>/<int:number>/", views.codec_replay, name="replay"),
    path("mqtt-secret/<uuid:product_id>/", views.product_secret, name="product-secret"),
    path("tags/", views.tag_list, name="tags"),
    path("tags/<int:tag_id>/delete/", views.tag_delete, name="tag-delete"),
    path("groups/<str:group_id>/", views.group_detail, name="group"),
    path("groups/<str:group_id>/members/", views.group_members, name="group-members"),
    path("groups/<str:group_id>/delete/", views.group_delete, name="group-delete"),
    path("bulk/", views.bulk_list, name="bulk"),
    path("bulk/template.csv", views.bulk_template, name="bulk-template"),
    path("bulk/<str:job_id>/", views.bulk_detail, name="bulk-detail"),
    path("bulk/<str:job_id>/progress/", views.bulk_progress, name="bulk-progress"),
    path("bulk/<str:job_id>/start/", views.bulk_start, name="bulk-start"),
    path("bulk/<str:job_id>/report.csv", views.bulk_report, name="bulk-report"),
    path("<str:device_id>/", views.device_detail, name="detail"),
    path("<str:device_id>/edit/", views.device_edit, name="edit"),
    path("<str:device_id>/delete/", views.device_delete, name="delete"),
]
