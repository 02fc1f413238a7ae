"""Plain helpers for bulk registration tests: valid IMEIs, CSV and XLSX files, a checked job."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from django.core.files.uploadedfile import SimpleUploadedFile

from devices import bulk
from devices.bulk import luhn_digit
from devices.models import BulkRegistration

HEADER = ("nodeId", "name", "product", "psk", "timeout")


def imei(serial: int, prefix: str = "86370303") -> str:
    """A 15-digit IMEI whose check digit is right."""
    body = f"{prefix}{serial:06d}"
    return body + str(luhn_digit(body))


def bad_imei(serial: int) -> str:
    good = imei(serial)
    return good[:14] + str((int(good[14]) + 1) % 10)


def csv_bytes(rows: Sequence[Sequence[object]], header: Sequence[str] = HEADER, *, delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def xlsx_bytes(rows: Sequence[Sequence[object]], header: Sequence[str] = HEADER) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(data: bytes, name: str = "devices.csv") -> SimpleUploadedFile:
    content_type = "text/csv" if name.endswith(".csv") else "application/octet-stream"
    return SimpleUploadedFile(name, data, content_type=content_type)


def product_rows(product, count: int, start: int = 0) -> list[list[object]]:
    return [[imei(start + n), f"meter {start + n}", str(product.product_id), "", ""] for n in range(count)]


def create_job(application, rows, *, mode: str = "skip-bad-rows", dry_run: bool = False, **kwargs) -> BulkRegistration:
    """A job from a CSV of `rows` (HEADER columns), its task not run."""
    return bulk.do_create_bulk_registration(
        application, "devices.csv", csv_bytes(rows), mode=mode, dry_run=dry_run, **kwargs
    )


def other_product(credentials, model: str = "g2002"):
    """A second product (manufacturerId + model are unique on the whole platform)."""
    from tests.products.fixtures import DEVICE_FILE, changed, import_files, water_meter_files

    return import_files(credentials, changed(water_meter_files(), DEVICE_FILE, ("devices", 0, "model"), model))
