"""Every notification body, byte for byte: compact JSON, the original's key order, nulls kept."""

import datetime as dt

from subscriptions import payloads as p

DEVICE = "fd3fd274-fa2b-4e35-a3a0-4a5ff4d1e8b2"
WHEN = dt.datetime(2018, 2, 7, 3, 25, 33, tzinfo=dt.UTC)
NULL_INFO = ",".join(f'"{key}":null' for key in p.DEVICE_INFO_KEYS)


def _info(**values):
    return ",".join(f'"{key}":' + (f'"{values[key]}"' if key in values else "null") for key in p.DEVICE_INFO_KEYS)


def test_device_info_has_the_23_keys_in_order():
    assert len(p.DEVICE_INFO_KEYS) == 23
    assert list(p.device_info({})) == list(p.DEVICE_INFO_KEYS)


def test_device_data_changed_matches_the_observed_push():
    body = p.device_data_changed(
        DEVICE, DEVICE, p.service("Pumper", "Pumper", {"Speed": 0, "WaterPressure": 0, "Power": 0}, WHEN)
    )
    assert p.encode(body) == (
        b'{"notifyType":"deviceDataChanged","deviceId":"' + DEVICE.encode() + b'","gatewayId":"' + DEVICE.encode()
        + b'","requestId":null,"service":{"serviceId":"Pumper","serviceType":"Pumper",'
        b'"data":{"Speed":0,"WaterPressure":0,"Power":0},"eventTime":"20180207T032533Z"}}'
    )  # fmt: skip


def test_receivers_substring_match_works():
    body = p.encode(p.device_data_changed(DEVICE, DEVICE, p.service("S", "S", {}, WHEN)))
    assert b'"notifyType":"deviceDataChanged"' in body


def test_device_datas_changed_uses_services():
    body = p.device_datas_changed(DEVICE, DEVICE, [p.service("A", "A", {"x": 1}, WHEN), p.service("B", "B", {}, WHEN)])
    assert p.encode(body).decode() == (
        '{"notifyType":"deviceDatasChanged","requestId":null,'
        f'"deviceId":"{DEVICE}","gatewayId":"{DEVICE}","services":['
        '{"serviceId":"A","serviceType":"A","data":{"x":1},"eventTime":"20180207T032533Z"},'
        '{"serviceId":"B","serviceType":"B","data":{},"eventTime":"20180207T032533Z"}]}'
    )


def test_device_added():
    body = p.device_added(
        DEVICE, DEVICE, "ENDPOINT", {"nodeId": "86370303", "status": "OFFLINE", "statusDetail": "NOT_ACTIVE"}
    )
    info = _info(nodeId="86370303", status="OFFLINE", statusDetail="NOT_ACTIVE")
    assert p.encode(body).decode() == (
        f'{{"notifyType":"deviceAdded","deviceId":"{DEVICE}","gatewayId":"{DEVICE}","nodeType":"ENDPOINT",'
        f'"deviceInfo":{{{info}}}}}'
    )


def test_bind_device():
    body = p.bind_device(DEVICE, "expired", {})
    assert p.encode(body).decode() == (
        f'{{"notifyType":"bindDevice","deviceId":"{DEVICE}","resultCode":"expired","deviceInfo":{{{NULL_INFO}}}}}'
    )


def test_device_info_changed():
    body = p.device_info_changed(DEVICE, DEVICE, {"status": "ONLINE"})
    assert p.encode(body).decode() == (
        f'{{"notifyType":"deviceInfoChanged","deviceId":"{DEVICE}","gatewayId":"{DEVICE}",'
        f'"deviceInfo":{{{_info(status="ONLINE")}}}}}'
    )


def test_service_info_changed():
    body = p.service_info_changed(DEVICE, DEVICE, "Switch", "Switch", ["SET"])
    assert p.encode(body).decode() == (
        f'{{"notifyType":"serviceInfoChanged","deviceId":"{DEVICE}","gatewayId":"{DEVICE}",'
        '"serviceId":"Switch","serviceType":"Switch","serviceInfo":{"muteCmds":["SET"]}}'
    )


def test_device_deleted():
    assert p.encode(p.device_deleted(DEVICE, DEVICE)).decode() == (
        f'{{"notifyType":"deviceDeleted","deviceId":"{DEVICE}","gatewayId":"{DEVICE}"}}'
    )


def test_device_model_added_and_deleted():
    product = {
        "deviceType": "WaterMeter",
        "manufacturerName": "Huawei",
        "manufacturerId": "Huawei",
        "model": "v1001",
        "protocolType": "CoAP",
    }
    for notify_type in ("deviceModelAdded", "deviceModelDeleted"):
        assert p.encode(p.device_model(notify_type, "APP", product)).decode() == (
            f'{{"notifyType":"{notify_type}","appId":"APP","deviceType":"WaterMeter","manufacturerName":"Huawei",'
            '"manufacturerId":"Huawei","model":"v1001","protocolType":"CoAP"}'
        )


def test_rule_event():
    body = p.rule_event("me", "r1", "High", None, [{"satisfactionTime": "t"}], WHEN, [{"type": "SMS"}])
    assert p.encode(body).decode() == (
        '{"notifyType":"ruleEvent","author":"me","ruleId":"r1","ruleName":"High","logic":null,'
        '"reasons":[{"satisfactionTime":"t"}],"triggerTime":"20180207T032533Z","actionsResults":[{"type":"SMS"}]}'
    )


def test_gateway_only_bodies_are_built_though_not_emitted_for_nb_devices():
    assert p.encode(p.message_confirm("r", "f", "t", "sent", WHEN, {"a": 1})).decode() == (
        '{"notifyType":"messageConfirm","header":{"requestId":"r","from":"f","to":"t","status":"sent",'
        '"timestamp":"20180207T032533Z"},"body":{"a":1}}'
    )
    assert p.encode(p.command_rsp("r", "f", "t", DEVICE, "Switch", "SET", {})).decode() == (
        '{"notifyType":"commandRsp","header":{"requestId":"r","from":"f","to":"t",'
        f'"deviceId":"{DEVICE}","serviceType":"Switch","method":"SET"}},"body":{{}}}}'
    )
    assert p.encode(p.device_event("alarm", "f", WHEN, WHEN, DEVICE, "Alarm", {})).decode() == (
        '{"notifyType":"deviceEvent","header":{"eventType":"alarm","from":"f","timestamp":"20180207T032533Z",'
        f'"eventTime":"20180207T032533Z","deviceId":"{DEVICE}","serviceType":"Alarm"}},"body":{{}}}}'
    )


def test_software_upgrade_notifications():
    assert p.encode(p.sw_upgrade_state_change(DEVICE, "APP", "op", "sub", "downloading")).decode() == (
        f'{{"notifyType":"swUpgradeStateChangeNotify","deviceId":"{DEVICE}","appId":"APP","operationId":"op",'
        '"subOperationId":"sub","swUpgradeState":"downloading"}'
    )
    body = p.sw_upgrade_result(
        DEVICE, "APP", "op", "sub", cur_version="2", target_version="2", source_version="1", result="SUCCESS",
        upgrade_time=WHEN,
    )  # fmt: skip
    assert p.encode(body).decode() == (
        f'{{"notifyType":"swUpgradeResultNotify","deviceId":"{DEVICE}","appId":"APP","operationId":"op",'
        '"subOperationId":"sub","curVersion":"2","targetVersion":"2","sourceVersion":"1","swUpgradeResult":"SUCCESS",'
        '"upgradeTime":"20180207T032533Z","resultDesc":null,"errorCode":null,"description":null}'
    )


def test_firmware_upgrade_notifications():
    assert p.encode(p.fw_upgrade_state_change(DEVICE, "APP", "op", "sub", "2")).decode() == (
        f'{{"notifyType":"fwUpgradeStateChangeNotify","deviceId":"{DEVICE}","appId":"APP","operationId":"op",'
        '"subOperationId":"sub","step":"2","stepDesc":"downloaded"}'
    )
    body = p.fw_upgrade_result(
        DEVICE, "APP", "op", "sub", cur_version="V1.1", target_version="V1.1", source_version="V1.0",
        status="FAIL", status_desc="integrity check failure", upgrade_time=WHEN,
    )  # fmt: skip
    assert p.encode(body).decode() == (
        f'{{"notifyType":"fwUpgradeResultNotify","deviceId":"{DEVICE}","appId":"APP","operationId":"op",'
        '"subOperationId":"sub","curVersion":"V1.1","targetVersion":"V1.1","sourceVersion":"V1.0","status":"FAIL",'
        '"statusDesc":"integrity check failure","upgradeTime":"20180207T032533Z"}'
    )


def test_desired_properties_status():
    assert p.encode(p.desired_properties_status(DEVICE, "S", {"a": 1}, "DELIVERED")).decode() == (
        f'{{"notifyType":"deviceDesiredPropertiesModifyStatusChanged","deviceId":"{DEVICE}","serviceId":"S",'
        '"properties":{"a":1},"status":"DELIVERED"}'
    )


def test_command_callback_has_no_notify_type():
    assert p.encode(p.command_callback(DEVICE, "5c25", "SUCCESSFUL", {"light_state": 1})).decode() == (
        f'{{"deviceId":"{DEVICE}","commandId":"5c25","result":{{"resultCode":"SUCCESSFUL","resultDetail":{{"light_state":1}}}}}}'
    )


def test_non_ascii_stays_utf8():
    assert p.encode({"name": "水表"}) == '{"name":"水表"}'.encode()


def test_every_type_has_a_sample():
    for notify_type in p.SAMPLE_TYPES:
        body = p.sample(notify_type)
        if notify_type != "commandCallback":
            assert body["notifyType"] == notify_type
