"""Bulk registration for application servers: `/api/v1/bulk-registrations`, with the northbound token auth.

OceanConnect offered bulk registration only in its portal (F-4.4, F-8.1); these calls give scripts the
same: upload a CSV or XLSX (dry run or not, all-or-nothing or skip-bad-rows), follow the job, start a
dry run, download the per-row report. A job of another application answers 404 like a missing one.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from applications.api.serializers import ErrorSerializer, GatewayErrorSerializer
from applications.auth import get_application
from applications.errors import NorthboundError, error_body
from applications.formats import format_time
from applications.paging import whole_number
from devices import bulk
from devices.models import BulkMode, BulkRegistration

TAGS = ["Bulk registration"]
PROBLEMS_SHOWN = 100


class BulkProblemSerializer(serializers.Serializer):
    row = serializers.IntegerField(allow_null=True, help_text="The row as a spreadsheet numbers it (header: 1).")
    column = serializers.CharField(help_text="nodeId, product, psk...; empty for the row as a whole.")
    code = serializers.CharField(help_text="A BULK_* code of docs/errors.md.")
    message = serializers.CharField()


class BulkFileErrorSerializer(ErrorSerializer):
    errors = BulkProblemSerializer(many=True)


class BulkRegistrationSerializer(serializers.Serializer):
    jobId = serializers.UUIDField()
    fileName = serializers.CharField()
    mode = serializers.ChoiceField(choices=BulkMode.values)
    state = serializers.ChoiceField(
        choices=["checked", "rejected", "queued", "running", "done", "failed"],
        help_text=(
            "checked: a dry run, nothing written (start it with .../start); rejected: all-or-nothing with bad "
            "rows, nothing written; queued, running; done; failed: all-or-nothing and a row failed when the job "
            "ran: nothing written."
        ),
    )
    totalRows = serializers.IntegerField()
    invalidRows = serializers.IntegerField(help_text="Rows with problems found by the check.")
    alreadyRegisteredRows = serializers.IntegerField(help_text="Rows registered already with the same data.")
    queuedRows = serializers.IntegerField(help_text="Rows the job set out to register.")
    processedRows = serializers.IntegerField()
    registeredRows = serializers.IntegerField()
    failedRows = serializers.IntegerField(help_text="Rows that failed when the job ran.")
    expiredRows = serializers.IntegerField(
        help_text="Registered devices deleted later: they did not connect within their row's timeout."
    )
    percent = serializers.IntegerField()
    createdAt = serializers.CharField()
    startedAt = serializers.CharField(allow_null=True)
    finishedAt = serializers.CharField(allow_null=True)
    problemCount = serializers.IntegerField(required=False, help_text="Rows with problems (all of them).")
    problems = BulkProblemSerializer(many=True, required=False, help_text=f"The first {PROBLEMS_SHOWN} rows' problems.")


class BulkRegistrationPageSerializer(serializers.Serializer):
    totalCount = serializers.IntegerField()
    pageNo = serializers.IntegerField()
    pageSize = serializers.IntegerField()
    jobs = BulkRegistrationSerializer(many=True)


class BulkRegistrationUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV or XLSX; header row with nodeId and product or manufacturerId, "
                                 "deviceType, model; optional verifyCode, name, psk, timeout "
                                 "(seconds to bind; empty or 0: never expires).")  # fmt: skip
    mode = serializers.ChoiceField(choices=BulkMode.values, required=False, default=BulkMode.ALL_OR_NOTHING)
    dryRun = serializers.BooleanField(required=False, default=False)


def _time(value) -> str | None:
    return format_time(value) if value else None


def problem_body(problem: bulk.Problem) -> dict[str, Any]:
    return {"row": problem.row, "column": problem.column, "code": problem.code, "message": problem.message}


def job_body(job: BulkRegistration, *, problems: bool = False) -> dict[str, Any]:
    processed = bulk.processed_rows(job)
    body = {
        "jobId": str(job.job_id),
        "fileName": job.file_name,
        "mode": job.mode,
        "state": job.state,
        "totalRows": job.total_rows,
        "invalidRows": job.invalid_rows,
        "alreadyRegisteredRows": job.already_registered_rows,
        "queuedRows": job.queued_rows,
        "processedRows": processed,
        "registeredRows": job.registered_rows,
        "failedRows": job.failed_rows,
        "expiredRows": job.expired_rows,
        "percent": job.percent(processed),
        "createdAt": format_time(job.created_at),
        "startedAt": _time(job.started_at),
        "finishedAt": _time(job.finished_at),
    }
    if problems:
        shown, count = bulk.problems_of(job, PROBLEMS_SHOWN)
        body.update(problemCount=count, problems=[problem_body(problem) for problem in shown])
    return body


def file_error(error: bulk.BulkFileInvalid) -> Response:
    first = error.problems[0].message
    more = f" ({len(error.problems) - 1} more)" if len(error.problems) > 1 else ""
    body = {
        **error_body("100022", f"The input is invalid: {first}{more}"),
        "errors": [problem_body(problem) for problem in error.problems],
    }
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


def own_job(request: Request, job_id: str) -> BulkRegistration:
    try:
        key = uuid.UUID(job_id)
    except ValueError:
        raise NotFound() from None
    job = BulkRegistration.objects.filter(application=get_application(request), job_id=key).first()
    if job is None:
        raise NotFound()
    return job


AUTH_ERRORS = {
    403: OpenApiResponse(GatewayErrorSerializer, description="1010005 bad token or app_key; 1010004 throttled")
}
NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="200001: no such job in the calling application")}
JOB_ID = OpenApiParameter("job_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="jobId")


class BulkRegistrationsView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="createBulkRegistration",
        tags=TAGS,
        summary="Upload a CSV or XLSX of devices: checked in full, then registered by a background job",
        description=(
            "Every row is checked first (the dry run): IMEI check digit, each nodeId once in the file and not "
            "registered elsewhere, the product in this application, psk, timeout, the device quota. A row "
            "registered already in this application with the same data is `already registered`, not a problem, "
            "so sending a file again does no harm. With `dryRun` nothing more happens (start the job later); "
            "`all-or-nothing` (the default) registers every row or none; `skip-bad-rows` registers the good "
            "rows. Follow the job with GET .../{jobId}; the report lists every row's outcome. A row without a "
            "timeout never expires (unlike the northbound registration's 180 s default); `expiredRows` counts "
            "the job's devices deleted later because they did not connect within their timeout."
        ),
        request={"multipart/form-data": BulkRegistrationUploadSerializer},
        responses={
            201: BulkRegistrationSerializer,
            400: OpenApiResponse(
                BulkFileErrorSerializer, description="100022: the file cannot be used; nothing is stored"
            ),
            **AUTH_ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            return file_error(bulk.BulkFileInvalid([bulk.Problem("BULK_FILE_MISSING", "file")]))
        mode = request.data.get("mode") or BulkMode.ALL_OR_NOTHING
        if mode not in BulkMode.values:
            raise NorthboundError("100022", f"The input is invalid: mode must be one of {', '.join(BulkMode.values)}.")
        dry_run = str(request.data.get("dryRun", "false")).lower()
        if dry_run not in ("true", "false", "1", "0"):
            raise NorthboundError("100022", "The input is invalid: dryRun must be true or false.")
        try:
            data = bulk.read_upload(upload, upload.size)
            job = bulk.do_create_bulk_registration(
                get_application(request), upload.name or "devices.csv", data, mode=mode,
                dry_run=dry_run in ("true", "1"),
            )  # fmt: skip
        except bulk.BulkFileInvalid as error:
            return file_error(error)
        return Response(job_body(job, problems=True), status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="listBulkRegistrations",
        tags=TAGS,
        summary="The calling application's bulk registrations, newest first",
        parameters=[OpenApiParameter("pageNo", int), OpenApiParameter("pageSize", int, description="1 to 100")],
        responses={200: BulkRegistrationPageSerializer, **AUTH_ERRORS},
    )
    def get(self, request: Request) -> Response:
        page_no = whole_number(request, "pageNo", 0, maximum=1_000_000)
        page_size = whole_number(request, "pageSize", 25, minimum=1, maximum=100)
        jobs = BulkRegistration.objects.filter(application=get_application(request)).order_by("-created_at", "-id")
        page = jobs[page_no * page_size : (page_no + 1) * page_size]
        return Response(
            {
                "totalCount": jobs.count(),
                "pageNo": page_no,
                "pageSize": page_size,
                "jobs": [job_body(job) for job in page],
            }
        )


class BulkRegistrationView(APIView):
    @extend_schema(
        operation_id="getBulkRegistration",
        tags=TAGS,
        summary="One bulk registration: state, progress, the first problems",
        parameters=[JOB_ID],
        responses={200: BulkRegistrationSerializer, **NOT_FOUND, **AUTH_ERRORS},
    )
    def get(self, request: Request, job_id: str) -> Response:
        return Response(job_body(own_job(request, job_id), problems=True))


class BulkRegistrationStartView(APIView):
    @extend_schema(
        operation_id="startBulkRegistration",
        tags=TAGS,
        summary="Start a dry run's job",
        description="Only a `checked` job with rows to register, and in all-or-nothing mode without bad rows.",
        parameters=[JOB_ID],
        request=None,
        responses={
            200: BulkRegistrationSerializer,
            409: OpenApiResponse(ErrorSerializer, description="200002: not a dry run that can start"),
            **NOT_FOUND,
            **AUTH_ERRORS,
        },
    )
    def post(self, request: Request, job_id: str) -> Response:
        job = own_job(request, job_id)
        try:
            job = bulk.do_start_bulk_registration(job)
        except bulk.BulkNotStartable:
            desc = (
                f"The resource is conflicted: the job is {job.state}"
                + (f" with {job.invalid_rows} bad rows in all-or-nothing mode" if job.invalid_rows else "")
                + "; only a dry run with rows to register starts."
            )
            raise NorthboundError("200002", desc) from None
        return Response(job_body(job))


def report_response(job: BulkRegistration, *, with_psk: bool) -> StreamingHttpResponse:
    response = StreamingHttpResponse(bulk.report_csv(job, with_psk=with_psk), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{bulk.report_file_name(job)}"'
    return response


class BulkRegistrationReportView(APIView):
    @extend_schema(
        operation_id="bulkRegistrationReport",
        tags=TAGS,
        summary="The per-row report (CSV): row, nodeId, name, status, deviceId, psk (generated ones), problems",
        parameters=[JOB_ID],
        responses={(200, "text/csv"): OpenApiTypes.STR, **NOT_FOUND, **AUTH_ERRORS},
    )
    def get(self, request: Request, job_id: str) -> StreamingHttpResponse:
        return report_response(own_job(request, job_id), with_psk=True)
