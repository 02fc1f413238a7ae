"""/api/v1/bulk-registrations: upload, follow, start, report; the owner, another application, anonymous."""

from __future__ import annotations

import csv
import io

import pytest

from devices import bulk
from devices.models import BulkRegistration, BulkState, Device
from tests.devices.bulkfiles import bad_imei, csv_bytes, imei, product_rows, upload, xlsx_bytes
from tests.devices.fixtures import water_meter

pytestmark = pytest.mark.django_db
URL = "/api/v1/bulk-registrations"


@pytest.fixture
def product(owner_app):
    return water_meter(owner_app)


@pytest.fixture
def queued(monkeypatch):
    """Jobs sent to Celery (not run)."""
    sent: list[int] = []
    monkeypatch.setattr("devices.tasks.run_bulk_registration.apply_async", lambda args, **kw: sent.append(args[0]))
    return sent


def post(client, credentials, data: bytes, name: str = "devices.csv", **fields):
    return client.post(URL, {"file": upload(data, name), **fields}, headers=credentials.headers())


def test_a_dry_run_answers_201_with_each_problem_and_writes_no_device(
    client, owner_app, product, queued, django_capture_on_commit_callbacks
):
    rows = [*product_rows(product, 2), [bad_imei(7), "x", str(product.product_id), "zz", ""]]
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, owner_app, csv_bytes(rows), dryRun="true", mode="skip-bad-rows")
    assert response.status_code == 201
    body = response.json()
    job = BulkRegistration.objects.get()
    assert body == {
        "jobId": str(job.job_id),
        "fileName": "devices.csv",
        "mode": "skip-bad-rows",
        "state": "checked",
        "totalRows": 3,
        "invalidRows": 1,
        "alreadyRegisteredRows": 0,
        "queuedRows": 0,
        "processedRows": 0,
        "registeredRows": 0,
        "failedRows": 0,
        "expiredRows": 0,
        "percent": 0,
        "createdAt": body["createdAt"],
        "startedAt": None,
        "finishedAt": None,
        "problemCount": 1,
        "problems": [
            {
                "row": 4,
                "column": "nodeId",
                "code": "BULK_IMEI_CHECK_DIGIT",
                "message": f"IMEI {bad_imei(7)} fails its check digit: the last digit should be {imei(7)[14]}.",
            },
            {"row": 4, "column": "psk", "code": "BULK_PSK", "message": "psk must be 8 to 32 hexadecimal characters."},
        ],
    }
    assert not queued and not Device.objects.exists()


def test_upload_queues_the_job_and_the_report_follows_it(
    client, owner_app, product, queued, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, owner_app, xlsx_bytes(product_rows(product, 3)), "meters.xlsx")
    # then: all-or-nothing by default, queued
    assert response.status_code == 201
    body = response.json()
    assert (body["mode"], body["state"], body["queuedRows"], body["problems"]) == ("all-or-nothing", "queued", 3, [])
    job = BulkRegistration.objects.get()
    assert queued == [job.pk]
    # the worker runs it
    bulk.run_job(job.pk)
    detail = client.get(f"{URL}/{job.job_id}", headers=owner_app.headers()).json()
    assert (detail["state"], detail["registeredRows"], detail["percent"]) == ("done", 3, 100)
    assert detail["finishedAt"].endswith("Z")
    # the report
    report = client.get(f"{URL}/{job.job_id}/report", headers=owner_app.headers())
    assert report.status_code == 200 and report["Content-Type"] == "text/csv; charset=utf-8"
    assert report["Content-Disposition"] == 'attachment; filename="meters-report.csv"'
    lines = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode("utf-8-sig"))))
    devices = {device.node_id: device for device in Device.objects.all()}
    assert lines[0] == ["row", "nodeId", "name", "status", "deviceId", "psk", "problems"]
    assert lines[1:] == [
        [str(n + 2), imei(n), f"meter {n}", "registered", devices[imei(n)].device_id, devices[imei(n)].psk, ""]
        for n in range(3)
    ]


def test_start_a_dry_run(client, owner_app, product, queued, django_capture_on_commit_callbacks):
    job_id = post(client, owner_app, csv_bytes(product_rows(product, 2)), dryRun="true").json()["jobId"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{URL}/{job_id}/start", headers=owner_app.headers())
    assert response.status_code == 200
    assert (response.json()["state"], response.json()["queuedRows"]) == ("queued", 2)
    assert queued == [BulkRegistration.objects.get().pk]
    again = client.post(f"{URL}/{job_id}/start", headers=owner_app.headers())
    assert again.status_code == 409
    assert again.json() == {
        "error_code": "200002",
        "error_desc": "The resource is conflicted: the job is queued; only a dry run with rows to register starts.",
    }


def test_an_all_or_nothing_dry_run_with_bad_rows_cannot_start(client, owner_app, product, queued):
    rows = [*product_rows(product, 1), [bad_imei(3), "", str(product.product_id), "", ""]]
    job_id = post(client, owner_app, csv_bytes(rows), dryRun="true").json()["jobId"]
    response = client.post(f"{URL}/{job_id}/start", headers=owner_app.headers())
    assert response.status_code == 409
    assert "1 bad rows in all-or-nothing mode" in response.json()["error_desc"]
    assert BulkRegistration.objects.get().state == BulkState.CHECKED and not queued


def test_an_unusable_file_is_400_naming_each_problem_and_stores_nothing(client, owner_app):
    response = post(client, owner_app, b"nodeId,colour,size\r\n1,2,3\r\n")
    assert response.status_code == 400
    assert response.json() == {
        "error_code": "100022",
        "error_desc": "The input is invalid: Unknown column “colour”; the columns are nodeId, verifyCode, name, "
        "product, manufacturerId, deviceType, model, psk and timeout. (2 more)",
        "errors": [
            {
                "row": 1,
                "column": "colour",
                "code": "BULK_COLUMN_UNKNOWN",
                "message": response.json()["errors"][0]["message"],
            },
            {
                "row": 1,
                "column": "size",
                "code": "BULK_COLUMN_UNKNOWN",
                "message": response.json()["errors"][1]["message"],
            },
            {
                "row": 1,
                "column": "product",
                "code": "BULK_PRODUCT_COLUMNS",
                "message": "The file needs a product column (the product id), or manufacturerId, deviceType and "
                "model columns.",
            },
        ],
    }
    assert not BulkRegistration.objects.exists()


@pytest.mark.parametrize(
    ("fields", "code", "desc"),
    [
        ({}, "100022", "The input is invalid: Choose a CSV or XLSX file of devices (the multipart field “file”)."),
        ({"mode": "most"}, "100022", "The input is invalid: mode must be one of all-or-nothing, skip-bad-rows."),
        ({"dryRun": "maybe"}, "100022", "The input is invalid: dryRun must be true or false."),
    ],
)
def test_bad_parameters_are_100022(client, owner_app, product, fields, code, desc):
    body = dict(fields)
    if fields:
        body["file"] = upload(csv_bytes(product_rows(product, 1)))
    response = client.post(URL, body, headers=owner_app.headers())
    assert response.status_code == 400
    assert (response.json()["error_code"], response.json()["error_desc"]) == (code, desc)
    assert not BulkRegistration.objects.exists()


def test_a_file_over_the_limit_is_refused_before_it_is_read(client, owner_app, settings):
    settings.BULK_REGISTRATION_MAX_BYTES = 100
    response = post(client, owner_app, b"nodeId,product\r\n" + b"1,2\r\n" * 50)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "BULK_FILE_TOO_LARGE"


def test_list_is_the_callers_jobs_newest_first(client, owner_app, other_app, product, queued):
    for count in (1, 2):
        post(client, owner_app, csv_bytes(product_rows(product, count, start=10 * count)), dryRun="true")
    bulk.do_create_bulk_registration(other_app.application, "theirs.csv", b"nodeId,product\r\n1,x\r\n", dry_run=True)
    body = client.get(URL, {"pageSize": 1}, headers=owner_app.headers()).json()
    assert (body["totalCount"], body["pageSize"], len(body["jobs"])) == (2, 1, 1)
    assert body["jobs"][0]["totalRows"] == 2 and "problems" not in body["jobs"][0]


# --- Another application, anonymous callers -------------------------------------------------------


@pytest.fixture
def owners_job(client, owner_app, product, queued):
    job_id = post(client, owner_app, csv_bytes(product_rows(product, 2)), dryRun="true").json()["jobId"]
    return BulkRegistration.objects.get(job_id=job_id)


@pytest.mark.parametrize(
    ("method", "suffix"), [("get", ""), ("post", "/start"), ("get", "/report")], ids=["get", "start", "report"]
)
def test_another_application_gets_404_for_the_owners_job_and_changes_nothing(
    client, other_app, owners_job, queued, method, suffix
):
    response = getattr(client, method)(f"{URL}/{owners_job.job_id}{suffix}", headers=other_app.headers())
    assert response.status_code == 404
    assert response.json() == {"error_code": "200001", "error_desc": "The resource is not found"}
    owners_job.refresh_from_db()
    assert owners_job.state == BulkState.CHECKED and not queued


def test_another_application_does_not_see_the_owners_jobs_or_use_its_products(client, other_app, owners_job, product):
    assert client.get(URL, headers=other_app.headers()).json()["totalCount"] == 0
    # its own upload naming the owner's product: the product does not exist for it
    body = post(client, other_app, csv_bytes(product_rows(product, 1, start=50)), dryRun="true").json()
    assert [problem["code"] for problem in body["problems"]] == ["BULK_PRODUCT_NOT_FOUND"]


def test_an_unknown_or_malformed_job_id_is_404(client, owner_app):
    for job_id in ("not-a-uuid", "6f1c1e0a-9a86-4f56-9b7a-000000000000"):
        assert client.get(f"{URL}/{job_id}", headers=owner_app.headers()).status_code == 404


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("post", ""), ("get", "/{job}"), ("post", "/{job}/start"), ("get", "/{job}/report")],
    ids=["list", "upload", "get", "start", "report"],
)
def test_anonymous_callers_get_1010005_and_change_nothing(client, owners_job, product, queued, method, suffix):
    body = {"file": upload(csv_bytes(product_rows(product, 1, start=70)))} if method == "post" and not suffix else {}
    response = getattr(client, method)(URL + suffix.format(job=owners_job.job_id), body)
    assert response.status_code == 403
    assert response.json() == {"resultcode": "1010005", "resultmsg": "Invalid access token or appId."}
    assert BulkRegistration.objects.count() == 1 and BulkRegistration.objects.get().state == BulkState.CHECKED
    assert not queued


def test_the_openapi_schema_documents_the_bulk_calls():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        operation["operationId"]
        for path, item in schema["paths"].items()
        if path.startswith(URL)
        for operation in item.values()
    }
    assert operations == {
        "createBulkRegistration",
        "listBulkRegistrations",
        "getBulkRegistration",
        "startBulkRegistration",
        "bulkRegistrationReport",
    }
    upload = schema["paths"][URL]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert upload == {"$ref": "#/components/schemas/BulkRegistrationUpload"}
    fields = schema["components"]["schemas"]["BulkRegistrationUpload"]["properties"]
    assert set(fields) == {"file", "mode", "dryRun"}
