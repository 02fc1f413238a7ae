"""Upgrade calls: the iodm northbound API (section 6) and our package upload under /api/v1/."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from applications.auth import get_application
from applications.errors import NorthboundError
from applications.paging import whole_number
from applications.schema import answers
from firmware import actions
from firmware.api import serializers as S
from firmware.models import FileType, Operation, Package, SubStatus
from firmware.presenters import operation_body, package_body, sub_operation_body

TAGS = ["Firmware and software upgrade"]
# firmware.actions.check_operation's errors, in the order it checks.
OPERATION_ERRORS = (
    "123001", "123002", "123019", "123020", "123021", "123022", "123023", "123024", "123025", "123026",
    "123027", "123028", "123032", "123033", "123034",
)  # fmt: skip


def _package(request: Request, file_id: str) -> Package:
    package = Package.objects.filter(application=get_application(request), file_id=file_id).first()
    if package is None:
        raise NorthboundError("123002")
    return package


def _operation(request: Request, operation_id: str) -> Operation:
    operation = (
        Operation.objects.filter(application=get_application(request), operation_id=operation_id)
        .select_related("package")
        .first()
    )
    if operation is None:
        raise NorthboundError("123009")
    return operation


class PackagesView(APIView):
    """`GET /iodm/northbound/v1.5.0/category`: the application's packages (pageSize 1 to 100, default 10)."""

    @extend_schema(
        operation_id="listPackages",
        tags=TAGS,
        parameters=[
            OpenApiParameter(name, str) for name in ("fileType", "deviceType", "model", "manufacturerName", "version")
        ]
        + [OpenApiParameter("pageNo", int), OpenApiParameter("pageSize", int, description="1 to 100, default 10")],
        responses=answers({200: S.PackagePage}, "120015"),
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        page_no = whole_number(request, "pageNo", 0, maximum=1_000_000, code="120015")
        page_size = whole_number(request, "pageSize", 10, minimum=1, maximum=100, code="120015")
        packages = Package.objects.filter(application=get_application(request)).defer("data")
        if params.get("fileType"):
            if params["fileType"] not in FileType.values:
                raise NorthboundError(
                    "120015", "Bad request error: fileType must be firmwarePackage or softwarePackage."
                )
            packages = packages.filter(file_type=params["fileType"])
        for param, field in (("deviceType", "device_type"), ("model", "model"), ("version", "version")):
            if params.get(param):
                packages = packages.filter(**{field: params[param]})
        manufacturer = params.get("manufacturerName") or params.get("manufactureName")  # the doc's misspelling too
        if manufacturer:
            packages = packages.filter(manufacturer_name=manufacturer)
        total = packages.count()
        page = packages.order_by("-uploaded_at", "-id")[page_no * page_size : (page_no + 1) * page_size]
        return Response(
            {"data": [package_body(p) for p in page], "pageNo": page_no, "pageSize": page_size, "totalCount": total}
        )


class PackageView(APIView):
    @extend_schema(operation_id="getPackage", tags=TAGS, responses=answers({200: S.PackageSerializer}, "123002"))
    def get(self, request: Request, file_id: str) -> Response:
        return Response(package_body(_package(request, file_id)))

    @extend_schema(
        operation_id="deletePackage",
        tags=TAGS,
        responses=answers({200: OpenApiResponse(description="Deleted; no body.")}, "123001", "123002"),
    )
    def delete(self, request: Request, file_id: str) -> Response:
        actions.do_delete_package(_package(request, file_id))
        return Response(status=status.HTTP_200_OK)


class UploadView(APIView):
    """`POST /api/v1/firmware-packages` (multipart): what the original offered only in its portal."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="uploadPackage",
        tags=TAGS,
        summary="Upload a package (zip of at most 35 MB)",
        request={"multipart/form-data": S.UploadRequest},
        responses=answers({201: S.PackageSerializer}, "123001"),
    )
    def post(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            raise NorthboundError("123001", "Bad request error: the multipart field file is missing.")
        if upload.size > actions.MAX_PACKAGE_BYTES:
            raise NorthboundError(
                "123001", f"Bad request error: file is {upload.size} bytes; a package is at most 35 MB."
            )
        names = ("fileType", "version", "deviceType", "manufacturerName", "model", "protocolType", "sourceVersions")
        fields = {key: request.data.get(key) for key in (*names, "description")}
        package = actions.do_upload_package(get_application(request), fields, upload.name, upload.read())
        return Response(package_body(package), status=status.HTTP_201_CREATED)


class CreateOperationView(APIView):
    """`POST /iodm/northbound/v1.5.0/operations/firmwareUpgrade|softwareUpgrade`: answers the operationId."""

    operate_type = "firmware_upgrade"

    @extend_schema(
        tags=TAGS,
        summary="Start an upgrade task",
        request={"application/json": S.UpgradeRequest},
        responses=answers({200: S.OperationCreated}, *OPERATION_ERRORS),
    )
    def post(self, request: Request) -> Response:
        operation = actions.do_create_operation(get_application(request), request.data, self.operate_type)
        return Response({"operationId": operation.operation_id})


class OperationsView(APIView):
    @extend_schema(
        operation_id="listOperations",
        tags=TAGS,
        parameters=[
            OpenApiParameter(name, str)
            for name in ("operationType", "operationStatus", "deviceType", "model", "manufacturerName", "deviceId")
        ]
        + [OpenApiParameter("pageNo", int), OpenApiParameter("pageSize", int, description="1 to 100, default 10")],
        responses=answers({200: S.OperationPage}, "123001"),
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        page_no = whole_number(request, "pageNo", 0, maximum=1_000_000, code="123001")
        page_size = whole_number(request, "pageSize", 10, minimum=1, maximum=100, code="123001")
        operations = Operation.objects.filter(application=get_application(request)).select_related("package")
        if params.get("operationType"):
            operations = operations.filter(operate_type=params["operationType"])
        if params.get("operationStatus"):
            operations = operations.filter(status=params["operationStatus"])
        for param, field in (("deviceType", "package__device_type"), ("model", "package__model"),
                             ("manufacturerName", "package__manufacturer_name")):  # fmt: skip
            if params.get(param):
                operations = operations.filter(**{field: params[param]})
        if params.get("deviceId"):
            operations = operations.filter(sub_operations__device__device_id=params["deviceId"])
        total = operations.count()
        page = operations.order_by("-created_at", "-id")[page_no * page_size : (page_no + 1) * page_size]
        data = [operation_body(operation, actions.progress(operation)) for operation in page]
        return Response({"totalCount": total, "pageNo": page_no, "pageSize": page_size, "data": data})


class OperationView(APIView):
    @extend_schema(operation_id="getOperation", tags=TAGS, responses=answers({200: S.UpgradeOperation}, "123009"))
    def get(self, request: Request, operation_id: str) -> Response:
        operation = _operation(request, operation_id)
        return Response(operation_body(operation, actions.progress(operation)))


class SubOperationsView(APIView):
    @extend_schema(
        operation_id="listSubOperations",
        tags=TAGS,
        parameters=[
            OpenApiParameter("subOperationStatus", str, enum=SubStatus.values),
            OpenApiParameter("pageNo", int),
            OpenApiParameter("pageSize", int, description="1 to 100, default 10"),
        ],
        responses=answers({200: S.SubOperationPage}, "123001", "123009"),
    )
    def get(self, request: Request, operation_id: str) -> Response:
        operation = _operation(request, operation_id)
        page_no = whole_number(request, "pageNo", 0, maximum=1_000_000, code="123001")
        page_size = whole_number(request, "pageSize", 10, minimum=1, maximum=100, code="123001")
        subs = operation.sub_operations.select_related("device", "operation")
        if wanted := request.query_params.get("subOperationStatus"):
            if wanted not in SubStatus.values:
                raise NorthboundError(
                    "123001", "Bad request error: subOperationStatus must be wait, processing, fail, success or stop."
                )
            subs = subs.filter(status=wanted)
        total = subs.count()
        page = subs.order_by("id")[page_no * page_size : (page_no + 1) * page_size]
        return Response(
            {
                "totalCount": total,
                "pageNo": page_no,
                "pageSize": page_size,
                "data": [sub_operation_body(s) for s in page],
            }
        )


class OperationControlView(APIView):
    """`POST /api/v1/firmware-operations/{operationId}/{retry|pause|resume|abort}`: rollout controls."""

    @extend_schema(
        operation_id="controlOperation",
        tags=TAGS,
        summary="Retry failed sub-tasks, pause, resume or abort",
        parameters=[
            OpenApiParameter("control", str, OpenApiParameter.PATH, enum=["retry", "pause", "resume", "abort"])
        ],
        request=None,
        responses=answers({200: S.UpgradeOperation}, "123001", "123009"),
    )
    def post(self, request: Request, operation_id: str, control: str) -> Response:
        operation = _operation(request, operation_id)
        handlers = {
            "retry": actions.do_retry_failed,
            "pause": actions.do_pause,
            "resume": actions.do_resume,
            "abort": actions.do_abort,
        }
        if control not in handlers:
            raise NorthboundError("123001", "Bad request error: the control must be retry, pause, resume or abort.")
        handlers[control](operation)
        operation.refresh_from_db()
        return Response(operation_body(operation, actions.progress(operation)))
