"""Hostile .xlsx files: a DTD, entities (billion laughs, external), broken sheet XML: each a 400 naming the file."""

from __future__ import annotations

import io
import zipfile

import pytest

from devices.models import BulkRegistration, Device
from tests.devices.bulkfiles import imei, product_rows, upload, xlsx_bytes
from tests.devices.fixtures import water_meter

pytestmark = pytest.mark.django_db
URL = "/api/v1/bulk-registrations"
SHEET = "xl/worksheets/sheet1.xml"

LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
)
EXTERNAL = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
DTD_ONLY = b'<?xml version="1.0"?><!DOCTYPE worksheet SYSTEM "http://127.0.0.1:9/x.dtd">'


@pytest.fixture
def product(owner_app):
    return water_meter(owner_app)


def rewritten(data: bytes, part: str, change) -> bytes:
    """The same .xlsx with one part's bytes changed by `change`."""
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            target.writestr(info, change(content) if info.filename == part else content)
    return out.getvalue()


def with_prologue(prologue: bytes):
    def change(content: bytes) -> bytes:
        body = content.split(b"?>", 1)[1] if content.startswith(b"<?xml") else content
        return prologue + body.replace(b"<v>", b"<v>&lol3;", 1) if b"lol3" in prologue else prologue + body

    return change


def post(client, credentials, data: bytes, name: str):
    return client.post(URL, {"file": upload(data, name), "dryRun": "true"}, headers=credentials.headers())


@pytest.mark.parametrize(
    ("part", "prologue"),
    [
        (SHEET, LAUGHS),
        (SHEET, EXTERNAL),
        (SHEET, DTD_ONLY),
        ("[Content_Types].xml", DTD_ONLY),
        ("xl/workbook.xml", EXTERNAL),
        ("xl/styles.xml", LAUGHS),
    ],
)
def test_a_part_declaring_a_dtd_is_400_naming_the_file_and_part(client, owner_app, product, part, prologue):
    data = xlsx_bytes(product_rows(product, 2))
    assert part in zipfile.ZipFile(io.BytesIO(data)).namelist()
    response = post(client, owner_app, rewritten(data, part, with_prologue(prologue)), "meters.xlsx")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    [error] = response.json()["errors"]
    assert error["code"] == "BULK_FILE_UNREADABLE"
    assert error["message"] == (
        f"The file meters.xlsx cannot be read as XLSX: its part {part} declares a DTD, which is refused."
    )
    assert not BulkRegistration.objects.exists() and not Device.objects.exists()


def test_broken_sheet_xml_met_while_reading_rows_is_a_400_not_a_500(client, owner_app, product):
    data = xlsx_bytes(product_rows(product, 2))
    broken = rewritten(data, SHEET, lambda content: content.replace(b"</sheetData>", b"</sheetDat>"))
    response = post(client, owner_app, broken, "meters.xlsx")
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["code"] == "BULK_FILE_UNREADABLE"
    assert error["message"].startswith("The file meters.xlsx cannot be read as XLSX: ")
    assert not BulkRegistration.objects.exists()


def test_the_portal_shows_the_reason_and_stores_nothing(client, personas_with_product):
    personas, product = personas_with_product
    data = rewritten(xlsx_bytes(product_rows(product, 1)), SHEET, with_prologue(EXTERNAL))
    client.force_login(personas.owner)
    form = {"application": personas.app.app_id, "mode": "skip-bad-rows", "file": upload(data, "m.xlsx")}
    response = client.post("/devices/bulk/", form)
    assert response.status_code == 200
    assert "The file m.xlsx cannot be read as XLSX" in response.content.decode()
    assert not BulkRegistration.objects.exists()


def test_a_clean_xlsx_still_reads(client, owner_app, product):
    response = post(client, owner_app, xlsx_bytes([[imei(1), "m", str(product.product_id), "", ""]]), "ok.xlsx")
    assert response.status_code == 201, response.content


@pytest.fixture
def personas_with_product(db):
    from tests.portal.fixtures import create_personas

    personas = create_personas()
    return personas, water_meter(personas.app)


def test_openpyxl_parses_through_defusedxml():
    # requirements.txt installs defusedxml; openpyxl switches to it at import when it is present.
    from openpyxl import DEFUSEDXML

    assert DEFUSEDXML is True
