"""The original's rule calls (northbound-api.md section 2.10: `/iocm/app/rule/v1.2.0/rules`) and our alarm calls."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from applications.api.serializers import ErrorSerializer
from applications.auth import get_application
from applications.errors import NorthboundError
from applications.paging import whole_number
from rules import actions
from rules.api import serializers as s
from rules.models import Alarm, Rule, Severity
from rules.presenters import alarm_body, rule_body

TAGS = ["Rules"]
BAD = OpenApiResponse(ErrorSerializer, description="100022: the field and the rule it broke")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="200001: no rule with this ruleId in this application")


class RulesView(APIView):
    """`/iocm/app/rule/v1.2.0/rules`: create (POST), modify (PUT), query by name and author (GET)."""

    @extend_schema(
        operation_id="createRule",
        tags=TAGS,
        request=s.RuleSerializer,
        responses={200: s.RuleIdSerializer, 400: BAD},
    )
    def post(self, request: Request) -> Response:
        rule = actions.do_create_rule(get_application(request), request.data)
        return Response({"ruleId": rule.rule_id})

    @extend_schema(
        operation_id="updateRule",
        tags=TAGS,
        request=s.RuleSerializer,
        responses={200: s.RuleIdSerializer, 400: BAD, 404: NOT_FOUND},
    )
    def put(self, request: Request) -> Response:
        rule = actions.do_update_rule(get_application(request), request.data)
        return Response({"ruleId": rule.rule_id})

    @extend_schema(
        operation_id="queryRules",
        tags=TAGS,
        parameters=[OpenApiParameter("author", str), OpenApiParameter("name", str)],
        responses={200: s.RuleSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        application = get_application(request)
        rules = Rule.objects.filter(application=application).select_related("application").order_by("created_at", "id")
        if author := request.query_params.get("author"):
            rules = rules.filter(author=author)
        if name := request.query_params.get("name"):
            rules = rules.filter(name=name)
        return Response([rule_body(rule) for rule in rules])


class RuleView(APIView):
    """`/iocm/app/rule/v1.2.0/rules/{ruleId}`: delete."""

    @extend_schema(operation_id="deleteRule", tags=TAGS, responses={204: None, 404: NOT_FOUND})
    def delete(self, request: Request, rule_id: str) -> Response:
        actions.do_delete_rule(get_application(request), rule_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RuleStatusView(APIView):
    """`/iocm/app/rule/v1.2.0/rules/{ruleId}/status/{status}`: enable (active) or disable (inactive) one rule."""

    @extend_schema(
        operation_id="updateRuleStatus", tags=TAGS, request=None, responses={200: None, 400: BAD, 404: NOT_FOUND}
    )
    def put(self, request: Request, rule_id: str, rule_status: str) -> Response:
        [(_, error)] = actions.do_set_statuses(get_application(request), [(rule_id, rule_status)])
        if error is not None:
            raise error
        return Response(status=status.HTTP_200_OK)


class RuleStatusesView(APIView):
    """`/iocm/app/rule/v1.2.0/rules/status`: enable or disable several rules; a result per rule."""

    @extend_schema(
        operation_id="updateBatchRuleStatus",
        tags=TAGS,
        request=s.StatusRequestsSerializer,
        responses={200: s.StatusResponsesSerializer, 400: BAD},
    )
    def put(self, request: Request) -> Response:
        requests = request.data.get("requests") if isinstance(request.data, dict) else None
        if not isinstance(requests, list) or not requests or not all(isinstance(item, dict) for item in requests):
            raise NorthboundError(
                "100022", "The input is invalid: requests must be a non-empty array of {ruleId, status}."
            )
        if len(requests) > 1000:
            raise NorthboundError("100022", "The input is invalid: requests may hold at most 1000 rules.")
        outcomes = actions.do_set_statuses(
            get_application(request), [(item.get("ruleId"), item.get("status")) for item in requests]
        )
        responses = [
            {
                "ruleId": rule_id,
                "result": {"result_code": "0", "result_desc": "success"}
                if error is None
                else {"result_code": error.error_code, "result_desc": error.error_desc},
            }
            for rule_id, error in outcomes
        ]
        failed = sum(error is not None for _, error in outcomes)
        result = (
            {"result_code": "0", "result_desc": "success"}
            if not failed
            else {"result_code": "1", "result_desc": f"{failed} of {len(outcomes)} rules failed"}
        )
        return Response({"result": result, "responses": responses})


ALARM_TAGS = ["Alarms"]


class AlarmsView(APIView):
    """`/api/v1/alarms`: the application's alarms, newest first, filtered by state, severity, device or rule."""

    @extend_schema(
        operation_id="listAlarms",
        tags=ALARM_TAGS,
        parameters=[
            OpenApiParameter("state", str, description="ACTIVE, ACKNOWLEDGED, OPEN (both) or CLEARED"),
            OpenApiParameter("severity", str),
            OpenApiParameter("deviceId", str),
            OpenApiParameter("ruleId", str),
            OpenApiParameter("pageNo", int),
            OpenApiParameter("pageSize", int, description="1 to 1000, default 100"),
        ],
        responses={200: s.AlarmPageSerializer, 400: BAD},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        page_no = whole_number(request, "pageNo", 0, maximum=1_000_000)
        page_size = whole_number(request, "pageSize", 100, minimum=1, maximum=1000)
        alarms = filter_alarms(
            Alarm.objects.for_app(get_application(request)),
            state=params.get("state"),
            severity=params.get("severity"),
            device_id=params.get("deviceId"),
            rule_id=params.get("ruleId"),
        )
        total = alarms.count()
        page = alarms.select_related("device", "rule").order_by("-last_raised_at", "-id")[
            page_no * page_size : (page_no + 1) * page_size
        ]
        return Response(
            {"pageNo": page_no, "pageSize": page_size, "totalCount": total, "alarms": [alarm_body(a) for a in page]}
        )


def filter_alarms(alarms, *, state=None, severity=None, device_id=None, rule_id=None):
    """The console's and the API's filters; an unknown state or severity is 400 naming it."""
    if state:
        states = {
            "ACTIVE": {"cleared_at__isnull": True, "acknowledged_at__isnull": True},
            "ACKNOWLEDGED": {"cleared_at__isnull": True, "acknowledged_at__isnull": False},
            "OPEN": {"cleared_at__isnull": True},
            "CLEARED": {"cleared_at__isnull": False},
        }
        if state not in states:
            raise NorthboundError(
                "100022", "The input is invalid: state must be ACTIVE, ACKNOWLEDGED, OPEN or CLEARED."
            )
        alarms = alarms.filter(**states[state])
    if severity:
        if severity not in Severity.values:
            raise NorthboundError("100022", "The input is invalid: severity must be warning, minor, major or critical.")
        alarms = alarms.filter(severity=severity)
    if device_id:
        alarms = alarms.filter(device__device_id=device_id)
    if rule_id:
        alarms = alarms.filter(rule__rule_id=rule_id)
    return alarms


class AlarmOperationSchema(AutoSchema):
    """Each route of AlarmOperationView keeps its own operationId and summary in the OpenAPI schema."""

    def get_operation_id(self) -> str:
        return f"{self.view.operation}Alarms"

    def get_summary(self) -> str:
        return AlarmOperationView.OPERATIONS[self.view.operation][1]


class AlarmOperationView(APIView):
    """`/api/v1/alarms/acknowledge` and `/api/v1/alarms/clear`: one view, the operation given by the route
    (`as_view(operation=...)`); by the application (who is its appId)."""

    OPERATIONS = {
        "acknowledge": (actions.do_acknowledge_alarms, "Acknowledge open alarms"),
        "clear": (actions.do_clear_alarms, "Clear open alarms by hand"),
    }
    operation = "acknowledge"
    schema = AlarmOperationSchema()

    @extend_schema(tags=ALARM_TAGS, request=s.AlarmIdsSerializer, responses={200: s.AlarmCountSerializer, 400: BAD})
    def post(self, request: Request) -> Response:
        application = get_application(request)
        ids = request.data.get("alarmIds") if isinstance(request.data, dict) else None
        operate = self.OPERATIONS[self.operation][0]
        return Response({"count": operate(application, ids, f"app:{application.app_id}")})
