"""Northbound subscription calls (northbound-api.md sections 4.1 to 4.3)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from applications.auth import get_application
from applications.errors import NorthboundError
from applications.paging import whole_number
from applications.schema import answers
from subscriptions import actions
from subscriptions import notify_types as nt
from subscriptions.api.serializers import (
    LegacySubscribeSerializer,
    SubscribeSerializer,
    SubscriptionPageSerializer,
    SubscriptionSerializer,
)
from subscriptions.models import Subscription

TAGS = ["Subscriptions"]


def _body(subscription: Subscription) -> dict:
    return {
        "subscriptionId": subscription.subscription_id,
        "notifyType": subscription.notify_type,
        "callbackUrl": subscription.callback_url,
    }


class SubscriptionsView(APIView):
    """`/iocm/app/sub/v1.2.0/subscriptions`: subscribe, list, batch delete."""

    @extend_schema(
        operation_id="subscribe",
        tags=TAGS,
        summary="Subscribe to a notifyType (business data)",
        request=SubscribeSerializer,
        responses=answers({201: SubscriptionSerializer}, "100022", "100222", "100234", "200002"),
    )
    def post(self, request: Request) -> Response:
        data = SubscribeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subscription = actions.do_subscribe(
            get_application(request),
            data.validated_data["notifyType"],
            data.validated_data.get("callbackUrl"),
            data.validated_data.get("channel"),
        )
        return Response(_body(subscription), status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="listSubscriptions",
        tags=TAGS,
        summary="List subscriptions (pageSize default 10)",
        parameters=[
            OpenApiParameter("notifyType", str),
            OpenApiParameter("pageNo", int, description="0 is the first page"),
            OpenApiParameter("pageSize", int, description="1 to 1000, default 10"),
        ],
        responses=answers({200: SubscriptionPageSerializer}, "100022"),
    )
    def get(self, request: Request) -> Response:
        page_no = whole_number(request, "pageNo", 0, maximum=1_000_000)
        page_size = whole_number(request, "pageSize", 10, minimum=1, maximum=1000)
        subscriptions = Subscription.objects.for_app(get_application(request))
        if notify_type := request.query_params.get("notifyType"):
            subscriptions = subscriptions.filter(notify_type=notify_type)
        total = subscriptions.count()
        page = subscriptions.order_by("created_at", "id")[page_no * page_size : (page_no + 1) * page_size]
        return Response(
            {
                "pageNo": page_no,
                "pageSize": page_size,
                "totalCount": total,
                "subscriptions": [_body(subscription) for subscription in page],
            }
        )

    @extend_schema(
        operation_id="deleteSubscriptions",
        tags=TAGS,
        summary="Delete subscriptions by notifyType, callbackUrl and channel",
        parameters=[
            OpenApiParameter("notifyType", str),
            OpenApiParameter("callbackUrl", str),
            OpenApiParameter(
                "channel", str, description="HTTP or MQTTS: that channel's subscriptions; empty: both; other: none"
            ),
        ],
        responses=answers({204: None}, "100022"),
    )
    def delete(self, request: Request) -> Response:
        params = request.query_params
        actions.do_delete_subscriptions(
            get_application(request),
            notify_type=params.get("notifyType"),
            callback_url=params.get("callbackUrl"),
            channel=params.get("channel"),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class SubscriptionView(APIView):
    """`/iocm/app/sub/v1.2.0/subscriptions/{subscriptionId}`."""

    def _get(self, request: Request, subscription_id: str) -> Subscription:
        subscription = (
            Subscription.objects.for_app(get_application(request)).filter(subscription_id=subscription_id).first()
        )
        if subscription is None:
            raise NorthboundError("200001")
        return subscription

    @extend_schema(
        operation_id="getSubscription",
        tags=TAGS,
        responses=answers({200: SubscriptionSerializer}, "200001"),
    )
    def get(self, request: Request, subscription_id: str) -> Response:
        return Response(_body(self._get(request, subscription_id)))

    @extend_schema(
        operation_id="deleteSubscription",
        tags=TAGS,
        responses=answers({204: None}, "200001"),
    )
    def delete(self, request: Request, subscription_id: str) -> Response:
        actions.do_delete_subscription(get_application(request), subscription_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LegacySubscribeView(APIView):
    """`/iocm/app/sub/v1.1.0|v1.2.0/subscribe`: lowercase `callbackurl`; subscribing again replaces the URL."""

    @extend_schema(
        tags=TAGS,
        summary="Legacy subscribe (v1.1.0 and v1.2.0 `subscribe`)",
        request=LegacySubscribeSerializer,
        responses=answers({201: SubscriptionSerializer}, "100022", "100222", "100234"),
    )
    def post(self, request: Request) -> Response:
        data = LegacySubscribeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subscription = actions.do_upsert_subscription(
            get_application(request),
            data.validated_data["notifyType"],
            data.validated_data["callbackurl"],
            allowed=nt.ALL,
        )
        return Response(_body(subscription), status=status.HTTP_201_CREATED)


class ManagementSubscribeView(APIView):
    """`/iodm/app/sub/v1.1.0/subscribe`: firmware/software upgrade notifications; 200 and no body."""

    @extend_schema(
        operation_id="subscribeManagementData",
        tags=TAGS,
        summary="Subscribe to upgrade notifications (management data)",
        request=LegacySubscribeSerializer,
        responses=answers({200: OpenApiResponse(description="Subscribed; no body.")}, "120007", "100222", "100234"),
    )
    def post(self, request: Request) -> Response:
        data = LegacySubscribeSerializer(data=request.data)
        if not data.is_valid():
            field = next(iter(data.errors))
            raise NorthboundError("120007", f"Bad request message: {field} is missing or invalid.")
        try:
            actions.do_upsert_subscription(
                get_application(request),
                data.validated_data["notifyType"],
                data.validated_data["callbackurl"],
                allowed=nt.MANAGEMENT,
            )
        except NorthboundError as error:
            if error.error_code == "100022":
                raise NorthboundError(
                    "120007", error.error_desc.replace("The input is invalid", "Bad request message")
                ) from None
            raise
        return Response(status=status.HTTP_200_OK)
