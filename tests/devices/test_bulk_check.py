"""Bulk registration's dry run: reading CSV and XLSX, and every rule named by row and column."""

from __future__ import annotations

import pytest

from devices import bulk
from devices.bulk import BulkFileInvalid, check_table, luhn_digit, read_table
from devices.models import BulkRegistration, BulkRowStatus, BulkState, Device
from tests.devices.bulkfiles import bad_imei, create_job, csv_bytes, imei, other_product, product_rows, xlsx_bytes
from tests.devices.fixtures import register, water_meter

pytestmark = pytest.mark.django_db


@pytest.fixture
def product(owner_app):
    return water_meter(owner_app)


def problems(application, data: bytes, name: str = "devices.csv") -> list[tuple[int, str, str]]:
    rows = check_table(application, read_table(name, data))
    return [(problem.row, problem.column, problem.code) for row in rows for problem in row.problems]


def file_problems(data: bytes, name: str = "devices.csv") -> list[tuple[str, str]]:
    with pytest.raises(BulkFileInvalid) as caught:
        read_table(name, data)
    return [(problem.column, problem.code) for problem in caught.value.problems]


def test_luhn_check_digit_of_a_known_imei():
    assert luhn_digit("49015420323751") == 8  # 490154203237518, the usual example
    assert luhn_digit("35209900176148") == 1


def test_a_clean_file_has_no_problems_and_a_dry_run_writes_no_device(owner_app, product):
    # given
    rows = [
        [imei(1), "kitchen", str(product.product_id), "0123456789abcdef", "0"],
        [imei(2), "", str(product.product_id), "", ""],
    ]
    # when
    job = create_job(owner_app.application, rows, dry_run=True)
    # then
    assert (job.state, job.total_rows, job.invalid_rows, job.to_register) == (BulkState.CHECKED, 2, 0, 2)
    assert not Device.objects.exists()
    first, second = job.rows.order_by("row_number")
    assert (first.row_number, first.node_id, first.name, first.timeout) == (2, imei(1), "kitchen", 0)
    assert (first.psk, first.psk_generated) == ("0123456789abcdef", False)
    assert "0123456789abcdef" not in first.psk_encrypted  # encrypted at rest like a device's
    assert second.psk_generated and len(second.psk) == 32 and second.timeout is None  # none given: never expires
    assert second.verify_code == imei(2)  # verifyCode defaults to the nodeId, as in a single registration
    assert {row.status for row in job.rows.all()} == {BulkRowStatus.PENDING}


def test_each_problem_is_named_by_row_and_column(owner_app, other_app, product):
    # given: a device of another application, and a product of another application
    register(other_app, node_id=imei(50))
    foreign = other_product(other_app)
    pid = str(product.product_id)
    rows = [
        [imei(1), "good", pid, "", ""],  # row 2
        [bad_imei(2), "bad check digit", pid, "", ""],  # row 3
        [imei(3), "twice", pid, "", ""],  # row 4
        [imei(3), "twice again", pid, "", ""],  # row 5
        [imei(50), "taken elsewhere", pid, "", ""],  # row 6
        [imei(7), "foreign product", str(foreign.product_id), "", ""],  # row 7
        [imei(8), "no product", "", "", ""],  # row 8
        [imei(9), "bad psk", pid, "12345", ""],  # row 9
        [imei(10), "bad timeout", pid, "", "-5"],  # row 10
        ["", "no nodeId", pid, "", ""],  # row 11
        ["MAC-00:11:22", "not an IMEI: no check digit", pid, "", "2147483647"],  # row 12
        [imei(13), "n" * 257, pid, "", "2147483648"],  # row 13
    ]
    # when
    found = problems(owner_app.application, csv_bytes(rows))
    # then
    assert found == [
        (3, "nodeId", "BULK_IMEI_CHECK_DIGIT"),
        (4, "nodeId", "BULK_NODE_ID_REPEATED"),
        (5, "nodeId", "BULK_NODE_ID_REPEATED"),
        (6, "nodeId", "BULK_NODE_ID_TAKEN"),
        (7, "product", "BULK_PRODUCT_NOT_FOUND"),
        (8, "product", "BULK_PRODUCT_REQUIRED"),
        (9, "psk", "BULK_PSK"),
        (10, "timeout", "BULK_TIMEOUT"),
        (11, "nodeId", "BULK_NODE_ID_REQUIRED"),
        (13, "name", "BULK_NAME_TOO_LONG"),
        (13, "timeout", "BULK_TIMEOUT"),
    ]


def test_messages_say_what_to_fix(owner_app, product):
    pid = str(product.product_id)
    rows = [[bad_imei(2), "", pid, "", ""], [imei(3), "", pid, "", ""], [imei(3), "", pid, "", ""]]
    checked = check_table(owner_app.application, read_table("devices.csv", csv_bytes(rows)))
    messages = [problem.message for row in checked for problem in row.problems]
    good = imei(2)
    assert messages == [
        f"IMEI {bad_imei(2)} fails its check digit: the last digit should be {good[14]}.",
        f"nodeId {imei(3)} is also on row 4 of this file.",
        f"nodeId {imei(3)} is also on row 3 of this file.",
    ]


def test_products_by_manufacturer_device_type_and_model(owner_app, product):
    header = ("nodeId", "manufacturerId", "deviceType", "model", "product")
    pid = str(product.product_id)
    rows = [
        [imei(1), "Huawei", "WaterMeter", "v1001", ""],  # row 2: the triple
        [imei(2), "Huawei", "WaterMeter", "v1001", pid],  # row 3: both, agreeing
        [imei(3), "Huawei", "GasMeter", "v1001", ""],  # row 4: another deviceType
        [imei(4), "Huawei", "", "v1001", ""],  # row 5: incomplete
        [imei(5), "Acme", "WaterMeter", "x1", pid],  # row 6: disagreeing
        [imei(6), "", "", "", pid.upper()],  # row 7: the id in capitals
    ]
    checked = check_table(owner_app.application, read_table("d.csv", csv_bytes(rows, header)))
    assert [(row.row_number, row.product, [(p.column, p.code) for p in row.problems]) for row in checked] == [
        (2, product, []),
        (3, product, []),
        (4, None, [("model", "BULK_PRODUCT_NOT_FOUND")]),
        (5, None, [("deviceType", "BULK_PRODUCT_INCOMPLETE")]),
        (6, None, [("product", "BULK_PRODUCT_MISMATCH")]),
        (7, product, []),
    ]


def test_rows_past_the_quota_are_named(owner_app, product):
    # given: a quota of 3 and one device registered
    owner_app.application.device_quota = 3
    owner_app.application.save()
    register(owner_app, node_id=imei(90), info={"name": "old"})
    rows = product_rows(product, 4)
    rows.insert(1, [bad_imei(5), "bad", str(product.product_id), "", ""])  # bad rows do not take places
    # when
    found = problems(owner_app.application, csv_bytes(rows))
    # then: two places left, the third and fourth good rows are over
    assert found == [(3, "nodeId", "BULK_IMEI_CHECK_DIGIT"), (5, "", "BULK_QUOTA"), (6, "", "BULK_QUOTA")]
    message = check_table(owner_app.application, read_table("d.csv", csv_bytes(rows)))[4].problems[0].message
    assert message == "Over the application's device quota of 3: 2 devices could still be registered."


def test_a_row_registered_already_with_the_same_data_is_not_a_problem(owner_app, product):
    # given: a file registered once
    rows = product_rows(product, 3)
    job = create_job(owner_app.application, rows)
    bulk.run_job(job.pk)
    # and one device renamed since
    Device.objects.filter(node_id=imei(2)).update(name="renamed")
    # when the same file is checked again
    again = check_table(owner_app.application, read_table("d.csv", csv_bytes(rows)))
    # then
    assert [row.status for row in again] == [
        BulkRowStatus.ALREADY_REGISTERED,
        BulkRowStatus.ALREADY_REGISTERED,
        BulkRowStatus.INVALID,
    ]
    assert again[0].device_id == Device.objects.get(node_id=imei(0)).device_id
    (problem,) = again[2].problems
    assert (problem.column, problem.code) == ("name", "BULK_REGISTERED_DIFFERENTLY")
    assert problem.message == (
        f"nodeId {imei(2)} is registered in this application already, with another name: “renamed”."
    )


def test_a_different_psk_for_a_registered_device_is_named_without_showing_it(owner_app, product):
    register(owner_app, node_id=imei(1), psk="0123456789abcdef", timeout=180, info={
        "manufacturerId": "Huawei", "deviceType": "WaterMeter", "model": "v1001"})  # fmt: skip
    same = [[imei(1), "", str(product.product_id), "0123456789abcdef", ""]]
    other = [[imei(1), "", str(product.product_id), "fedcba9876543210", ""]]
    assert check_table(owner_app.application, read_table("d.csv", csv_bytes(same)))[0].status == "already_registered"
    (problem,) = check_table(owner_app.application, read_table("d.csv", csv_bytes(other)))[0].problems
    assert (problem.column, problem.params["current"]) == ("psk", "••••••••")


def test_xlsx_reads_like_csv_with_numbers_as_typed(owner_app, product):
    pid = str(product.product_id)
    rows = [
        [int(imei(1)), "kitchen", pid, None, 300],  # an IMEI and a timeout typed as numbers
        [None, None, None, None, None],  # an empty row keeps the numbering
        [float(imei(2)), "garage", pid, "0123456789abcdef", 0.0],
        [bad_imei(3), "", pid, None, None],
    ]
    table = read_table("devices.xlsx", xlsx_bytes(rows))
    checked = check_table(owner_app.application, table)
    assert [(row.row_number, row.node_id, row.timeout) for row in checked] == [
        (2, imei(1), 300),
        (4, imei(2), 0),
        (5, bad_imei(3), None),
    ]
    assert [problem.code for problem in checked[2].problems] == ["BULK_IMEI_CHECK_DIGIT"]


def test_headers_are_matched_loosely_and_semicolons_work(owner_app, product):
    data = csv_bytes([[imei(1), "a", str(product.product_id)]], ("Node ID", "device_name", "Product-Id"), delimiter=";")
    table = read_table("devices.csv", data)
    assert table.columns == ["nodeId", "name", "product"]
    assert check_table(owner_app.application, table)[0].name == "a"


def test_a_gb18030_csv_from_chinese_excel_keeps_its_names(owner_app, product):
    data = f"nodeId,name,product\r\n{imei(1)},一号水表,{product.product_id}\r\n".encode("gb18030")
    (row,) = check_table(owner_app.application, read_table("devices.csv", data))
    assert row.name == "一号水表" and not row.problems


def test_a_value_under_no_column_name_is_a_row_problem_and_empty_unnamed_columns_are_ignored(owner_app, product):
    data = (
        f"nodeId,,product,\r\n{imei(1)},,{product.product_id},\r\n{imei(2)},,{product.product_id},surprise\r\n"
        f"{imei(3)},oops,{product.product_id}\r\n"
    ).encode()
    checked = check_table(owner_app.application, read_table("devices.csv", data))
    found = [(problem.row, problem.code, problem.message) for row in checked for problem in row.problems]
    assert found == [
        (3, "BULK_EXTRA_CELLS", "Cell D3 has a value but no column name in the header row."),
        (4, "BULK_EXTRA_CELLS", "Cell B4 has a value but no column name in the header row."),
    ]
    assert bulk._column_letters(0) == "A" and bulk._column_letters(26) == "AA" and bulk._column_letters(701) == "ZZ"


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (b"", "devices.csv", [("", "BULK_FILE_EMPTY")]),
        (b"\r\n  \r\n", "devices.csv", [("", "BULK_FILE_EMPTY")]),
        (b"nodeId,product\r\n", "devices.csv", [("", "BULK_NO_ROWS")]),
        (b"nodeId,product,colour\r\n1,2,3\r\n", "devices.csv", [("colour", "BULK_COLUMN_UNKNOWN")]),
        (b"nodeId,product,nodeid\r\n1,2,3\r\n", "devices.csv", [("nodeId", "BULK_COLUMN_REPEATED")]),
        (b"name,product\r\n1,2\r\n", "devices.csv", [("nodeId", "BULK_COLUMN_MISSING")]),
        (b"nodeId,model\r\n1,2\r\n", "devices.csv", [("product", "BULK_PRODUCT_COLUMNS")]),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "devices.xls", [("", "BULK_FILE_TYPE")]),
        (b"nodeId,product\r\n1,2\r\n", "devices.pdf", [("", "BULK_FILE_TYPE")]),
        (b"PK\x03\x04not really a zip", "devices.xlsx", [("", "BULK_FILE_UNREADABLE")]),
        (b"nodeId,product\r\n1\x00,2\r\n", "devices.csv", [("", "BULK_FILE_UNREADABLE")]),
    ],
)
def test_file_problems_refuse_the_whole_file(data, name, expected):
    assert file_problems(data, name) == expected


def test_too_many_rows_and_too_large_a_file(settings):
    settings.BULK_REGISTRATION_MAX_ROWS = 2
    assert file_problems(csv_bytes([[imei(n), "", "p", "", ""] for n in range(3)])) == [("", "BULK_TOO_MANY_ROWS")]
    settings.BULK_REGISTRATION_MAX_BYTES = 10
    with pytest.raises(BulkFileInvalid) as caught:
        bulk.read_upload(__import__("io").BytesIO(b"x" * 11), None)
    assert caught.value.problems[0].code == "BULK_FILE_TOO_LARGE"
    assert caught.value.problems[0].message == "The file is > 10 bytes; the limit is 10 bytes."


def test_an_all_or_nothing_file_with_bad_rows_is_rejected_and_nothing_is_queued(owner_app, product, monkeypatch):
    sent = []
    monkeypatch.setattr("devices.tasks.run_bulk_registration.apply_async", lambda *a, **k: sent.append(a))
    rows = [*product_rows(product, 2), [bad_imei(9), "", str(product.product_id), "", ""]]
    job = create_job(owner_app.application, rows, mode="all-or-nothing")
    assert job.state == BulkState.REJECTED and job.finished_at is not None
    statuses = dict(job.rows.values_list("row_number", "status"))
    assert statuses == {2: "not_registered", 3: "not_registered", 4: "invalid"}
    assert not sent and not Device.objects.exists()
    assert BulkRegistration.objects.get().percent() == 100
