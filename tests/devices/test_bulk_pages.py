"""The portal's bulk registration pages for every persona: owner, developer, viewer, outsider, operator, anonymous."""

from __future__ import annotations

import csv
import io

import pytest

from applications.actions import do_add_member
from applications.models import Role
from devices import bulk
from devices.models import BulkRegistration, BulkState, Device
from tests.devices.bulkfiles import bad_imei, create_job, csv_bytes, imei, product_rows, upload, xlsx_bytes
from tests.devices.fixtures import water_meter
from tests.portal.fixtures import create_personas, create_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def personas(no_wake):
    personas = create_personas()
    personas.developer = create_user("devon")
    do_add_member(personas.app.application, personas.developer, Role.DEVELOPER)
    personas.product = water_meter(personas.app)
    return personas


@pytest.fixture
def queued(monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr("devices.tasks.run_bulk_registration.apply_async", lambda args, **kw: sent.append(args[0]))
    return sent


@pytest.fixture
def job(personas):
    """A dry run of the owner's application: two good rows, one bad."""
    rows = [*product_rows(personas.product, 2), [bad_imei(9), "broken", str(personas.product.product_id), "", ""]]
    return create_job(personas.app.application, rows, mode="skip-bad-rows", dry_run=True)


def report_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


# --- The owner and the developer: upload, check, start, follow, report -----------------------------


@pytest.mark.parametrize("who", ["owner", "developer", "operator"])
def test_those_who_may_register_upload_check_and_start(
    client, personas, queued, who, django_capture_on_commit_callbacks
):
    client.force_login(getattr(personas, who))
    rows = [*product_rows(personas.product, 2), [bad_imei(9), "broken", str(personas.product.product_id), "", ""]]
    # upload: a dry run, shown with its problems
    response = client.post(
        "/devices/bulk/",
        {"application": personas.app.app_id, "file": upload(xlsx_bytes(rows), "meters.xlsx"), "mode": "skip-bad-rows"},
    )
    job = BulkRegistration.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/devices/bulk/{job.job_id}/"
    assert (job.state, job.mode, job.created_by) == (BulkState.CHECKED, "skip-bad-rows", getattr(personas, who))
    page = client.get(response["Location"]).content.decode()
    assert "1 row has problems" in page
    assert 'data-row="4" data-column="nodeId" data-code="BULK_IMEI_CHECK_DIGIT"' in page
    assert "Register 2 devices" in page and not Device.objects.exists()
    # start
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/devices/bulk/{job.job_id}/start/")
    assert response.status_code == 302 and queued == [job.pk]
    assert BulkRegistration.objects.get().state == BulkState.QUEUED
    # the progress partial polls while the job runs, and stops when it is done
    partial = client.get(f"/devices/bulk/{job.job_id}/progress/", headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 1s' in partial and 'value="0"' in partial
    bulk.run_job(job.pk)
    partial = client.get(f"/devices/bulk/{job.job_id}/progress/", headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in partial and 'value="100"' in partial and 'data-state="done"' in partial
    # the report, with the generated psks
    lines = report_of(client.get(f"/devices/bulk/{job.job_id}/report.csv"))
    device = Device.objects.get(node_id=imei(0))
    assert lines[1] == ["2", imei(0), "meter 0", "registered", device.device_id, device.psk, ""]
    assert lines[3][:4] == ["4", bad_imei(9), "broken", "invalid"]


def test_a_file_that_cannot_be_used_is_explained_on_the_page(client, personas):
    client.force_login(personas.owner)
    response = client.post(
        "/devices/bulk/",
        {"application": personas.app.app_id, "file": upload(b"imei;colour\r\n1;red\r\n"), "mode": "all-or-nothing"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "The file cannot be used" in page
    assert 'data-code="BULK_COLUMN_UNKNOWN"' in page and "Unknown column “colour”" in page
    assert not BulkRegistration.objects.exists()


def test_the_list_shows_the_visible_applications_jobs(client, personas, job):
    bulk.do_create_bulk_registration(
        personas.other_app.application, "gas.csv", csv_bytes([[imei(70), "", "nope", "", ""]]), dry_run=True
    )
    client.force_login(personas.viewer)
    page = client.get("/devices/bulk/").content.decode()
    assert "devices.csv" in page and "gas.csv" not in page
    assert 'enctype="multipart/form-data"' not in page  # viewers register nothing
    client.force_login(personas.operator)
    page = client.get("/devices/bulk/").content.decode()
    assert "devices.csv" in page and "gas.csv" in page


def test_the_devices_list_links_to_bulk_registration(client, personas):
    client.force_login(personas.owner)
    assert 'href="/devices/bulk/"' in client.get("/devices/").content.decode()


def test_the_template_names_a_product_of_the_account(client, personas):
    client.force_login(personas.owner)
    response = client.get("/devices/bulk/template.csv")
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert lines[0] == ["nodeId", "verifyCode", "name", "product", "psk", "timeout"]
    assert lines[1][3] == str(personas.product.product_id)
    # and the file it makes passes the check
    table = bulk.read_table("devices-template.csv", response.content)
    assert not bulk.check_table(personas.app.application, table)[0].problems


# --- The viewer: sees, does not change ---------------------------------------------------------------


def test_a_viewer_sees_the_job_and_a_report_without_psks(client, personas, job):
    start_form = f'action="/devices/bulk/{job.job_id}/start/"'
    client.force_login(personas.owner)
    assert start_form in client.get(f"/devices/bulk/{job.job_id}/").content.decode()
    client.force_login(personas.viewer)
    page = client.get(f"/devices/bulk/{job.job_id}/").content.decode()
    assert start_form not in page and "Download the report (CSV)" in page
    bulk.do_start_bulk_registration(job)
    bulk.run_job(job.pk)
    lines = report_of(client.get(f"/devices/bulk/{job.job_id}/report.csv"))
    assert [line[3] for line in lines] == ["status", "registered", "registered", "invalid"]
    assert [line[5] for line in lines] == ["psk", "", "", ""]


def test_a_viewer_cannot_upload_or_start_and_nothing_changes(client, personas, job, queued):
    client.force_login(personas.viewer)
    data = csv_bytes(product_rows(personas.product, 1, 50))
    response = client.post(
        "/devices/bulk/", {"application": personas.app.app_id, "file": upload(data), "mode": "all-or-nothing"}
    )
    assert response.status_code == 403
    assert client.post(f"/devices/bulk/{job.job_id}/start/").status_code == 403
    assert list(BulkRegistration.objects.values_list("pk", "state")) == [(job.pk, BulkState.CHECKED)]
    assert not queued and not Device.objects.exists()


# --- The outsider (another application's owner) and anonymous ----------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", ""), ("get", "progress/"), ("post", "start/"), ("get", "report.csv")],
    ids=["detail", "progress", "start", "report"],
)
def test_an_outsider_gets_404_and_changes_nothing(client, personas, job, queued, method, path):
    client.force_login(personas.outsider)
    assert getattr(client, method)(f"/devices/bulk/{job.job_id}/{path}").status_code == 404
    job.refresh_from_db()
    assert job.state == BulkState.CHECKED and not queued


def test_an_outsider_cannot_upload_into_another_application(client, personas, queued):
    client.force_login(personas.outsider)
    data = csv_bytes(product_rows(personas.product, 1))
    response = client.post(
        "/devices/bulk/", {"application": personas.app.app_id, "file": upload(data), "mode": "all-or-nothing"}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not BulkRegistration.objects.exists() and not queued


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", ""), ("post", ""), ("get", "template.csv"), ("get", "{job}/"), ("get", "{job}/progress/"),
     ("post", "{job}/start/"), ("get", "{job}/report.csv")],
)  # fmt: skip
def test_anonymous_visitors_go_to_the_login_page_and_change_nothing(client, personas, job, queued, method, path):
    data = {"application": personas.app.app_id, "file": upload(csv_bytes(product_rows(personas.product, 1, 60)))}
    response = getattr(client, method)("/devices/bulk/" + path.format(job=job.job_id), data if method == "post" else {})
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert list(BulkRegistration.objects.values_list("pk", "state")) == [(job.pk, BulkState.CHECKED)]
    assert not queued


def test_a_malformed_job_id_is_404(client, personas):
    client.force_login(personas.owner)
    assert client.get("/devices/bulk/not-a-uuid/").status_code == 404
