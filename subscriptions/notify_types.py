"""The notifyTypes an application can subscribe to (northbound-api.md section 4)."""

from __future__ import annotations

# Business data, subscribed through /iocm/app/sub/v1.2.0/subscriptions.
BIND_DEVICE = "bindDevice"
DEVICE_ADDED = "deviceAdded"
DEVICE_INFO_CHANGED = "deviceInfoChanged"
DEVICE_DATA_CHANGED = "deviceDataChanged"
DEVICE_DATAS_CHANGED = "deviceDatasChanged"
DEVICE_DELETED = "deviceDeleted"
SERVICE_INFO_CHANGED = "serviceInfoChanged"
RULE_EVENT = "ruleEvent"
DEVICE_MODEL_ADDED = "deviceModelAdded"
DEVICE_MODEL_DELETED = "deviceModelDeleted"
DEVICE_DESIRED_PROPERTIES_MODIFY_STATUS_CHANGED = "deviceDesiredPropertiesModifyStatusChanged"
DEVICE_REAL_TIME_DATA_QUERY_STATUS_CHANGED = "deviceRealTimeDataQueryStatusChanged"
APP_AUTHORIZATION = "appAuthorization"
APP_DEAUTHORIZATION = "appDeauthorization"
# Gateway/agent devices only: never emitted for NB-IoT (CoAP/LwM2M) devices (F-6.8).
MESSAGE_CONFIRM = "messageConfirm"
COMMAND_RSP = "commandRsp"
DEVICE_EVENT = "deviceEvent"

# Management data, subscribed through /iodm/app/sub/v1.1.0/subscribe.
SW_UPGRADE_STATE_CHANGE = "swUpgradeStateChangeNotify"
SW_UPGRADE_RESULT = "swUpgradeResultNotify"
FW_UPGRADE_STATE_CHANGE = "fwUpgradeStateChangeNotify"
FW_UPGRADE_RESULT = "fwUpgradeResultNotify"

# Not a notifyType: a command's own callbackUrl (no subscription, no notifyType in the body).
COMMAND_CALLBACK = "commandCallback"

BUSINESS = (
    BIND_DEVICE,
    DEVICE_ADDED,
    DEVICE_INFO_CHANGED,
    DEVICE_DATA_CHANGED,
    DEVICE_DATAS_CHANGED,
    DEVICE_DELETED,
    SERVICE_INFO_CHANGED,
    RULE_EVENT,
    DEVICE_MODEL_ADDED,
    DEVICE_MODEL_DELETED,
    DEVICE_DESIRED_PROPERTIES_MODIFY_STATUS_CHANGED,
    DEVICE_REAL_TIME_DATA_QUERY_STATUS_CHANGED,
    APP_AUTHORIZATION,
    APP_DEAUTHORIZATION,
    MESSAGE_CONFIRM,
    COMMAND_RSP,
    DEVICE_EVENT,
)
MANAGEMENT = (SW_UPGRADE_STATE_CHANGE, SW_UPGRADE_RESULT, FW_UPGRADE_STATE_CHANGE, FW_UPGRADE_RESULT)
ALL = BUSINESS + MANAGEMENT
NOT_EMITTED_FOR_NB = (MESSAGE_CONFIRM, COMMAND_RSP, DEVICE_EVENT)
