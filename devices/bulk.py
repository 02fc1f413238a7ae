"""Bulk registration (F-4.4, F-8.1): a CSV or XLSX file of devices, checked in full, then registered
by a background job in batches.

1. `read_table` reads the file (file-level problems raise BulkFileInvalid: nothing is stored).
2. `check_table` is the dry run: every rule of a registration, per row, named by row and column:
   nodeId present, its IMEI check digit (Luhn, for 15-digit numeric nodeIds), each nodeId once in
   the file and not registered elsewhere, the product in this application, psk, timeout, the quota.
   A row registered already in this application with the same data is not a problem: it is
   "already registered", so a file can be sent again and does no harm.
3. `do_create_bulk_registration` stores the job and one row per device (COPY), and queues the job
   unless it is a dry run, or an all-or-nothing file with bad rows (rejected).
4. `run_job` (devices.tasks.run_bulk_registration) registers the pending rows `BULK_REGISTRATION_CHUNK`
   at a time through `register_batch`, the batched registration: the same rules as
   `devices.actions.do_register_device` (quota counted under the application's row lock, one nodeId
   one device, the product tie and its row lock, psk encrypted, a deviceAdded notification and a
   log line per device) with a handful of statements per batch instead of a dozen per device.
   skip-bad-rows commits each batch; all-or-nothing registers every row in one transaction or none.
   The job is idempotent: rows leave `pending` in the transaction that registers them, so a second
   run (a redelivered task) finds nothing left to do.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import secrets as random
import uuid
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from xml.parsers import expat

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from psycopg import sql
from psycopg.types.json import Jsonb

from applications import audit, events
from applications.models import Application
from applications.redis import get_redis, key
from devices import secrets
from devices.actions import MAX_TIMEOUT, PSK_PATTERN
from devices.models import (
    BulkMode,
    BulkRegistration,
    BulkRegistrationRow,
    BulkRowStatus,
    BulkState,
    Device,
    DeviceLog,
    LogKind,
    NodeType,
)
from devices.presenters import device_info
from products.models import Product
from subscriptions import actions as push
from subscriptions import notify_types as nt
from subscriptions import payloads

# The columns a file may have, each under the names people write it with (compared lower-cased,
# without spaces, dashes and underscores).
COLUMNS = ("nodeId", "verifyCode", "name", "product", "manufacturerId", "deviceType", "model", "psk", "timeout")
ALIASES = {
    **{column.lower(): column for column in COLUMNS},
    "imei": "nodeId",
    "productid": "product",
    "devicename": "name",
}
PRODUCT_KEY = ("manufacturerId", "deviceType", "model")
REPORT_HEADER = ("row", "nodeId", "name", "status", "deviceId", "psk", "problems")

# What each code says, with its parameters; docs/errors.md lists them with their fixes.
MESSAGES: dict[str, Any] = {
    # The file
    "BULK_FILE_MISSING": _("Choose a CSV or XLSX file of devices (the multipart field “file”)."),
    "BULK_FILE_TOO_LARGE": _("The file is %(size)s bytes; the limit is %(limit)s bytes."),
    "BULK_FILE_TYPE": _("The file must be CSV (.csv) or Excel (.xlsx); save an old .xls as .xlsx or CSV."),
    "BULK_FILE_UNREADABLE": _("The file %(file)s cannot be read as %(kind)s: %(reason)s"),
    "BULK_FILE_EMPTY": _("The file is empty: it needs a header row, then one row per device."),
    "BULK_NO_ROWS": _("The file has a header row but no device rows."),
    "BULK_TOO_MANY_ROWS": _("The file has more than %(limit)s device rows; split it into several files."),
    "BULK_COLUMN_UNKNOWN": _(
        "Unknown column “%(column)s”; the columns are nodeId, verifyCode, name, product, "
        "manufacturerId, deviceType, model, psk and timeout."
    ),
    "BULK_COLUMN_REPEATED": _("The column %(column)s appears twice."),
    "BULK_COLUMN_MISSING": _("The file needs a %(column)s column."),
    "BULK_PRODUCT_COLUMNS": _(
        "The file needs a product column (the product id), or manufacturerId, deviceType and model columns."
    ),
    # A row
    "BULK_EXTRA_CELLS": _("Cell %(cell)s has a value but no column name in the header row."),
    "BULK_NODE_ID_REQUIRED": _("nodeId is empty."),
    "BULK_NODE_ID_TOO_LONG": _("nodeId is longer than 256 characters."),
    "BULK_IMEI_CHECK_DIGIT": _("IMEI %(node_id)s fails its check digit: the last digit should be %(expected)s."),
    "BULK_NODE_ID_REPEATED": _("nodeId %(node_id)s is also on row %(rows)s of this file."),
    "BULK_NODE_ID_TAKEN": _("nodeId %(node_id)s is registered already: one IMEI registers one device (100416)."),
    "BULK_REGISTERED_DIFFERENTLY": _(
        "nodeId %(node_id)s is registered in this application already, with another %(field)s: “%(current)s”."
    ),
    "BULK_VERIFY_CODE_TOO_LONG": _("verifyCode is longer than 256 characters."),
    "BULK_NAME_TOO_LONG": _("name is longer than 256 characters."),
    "BULK_PRODUCT_REQUIRED": _(
        "The row names no product: give the product id, or manufacturerId, deviceType and model."
    ),
    "BULK_PRODUCT_INCOMPLETE": _("manufacturerId, deviceType and model go together: %(missing)s is empty."),
    "BULK_PRODUCT_NOT_FOUND": _("No product %(product)s in this application."),
    "BULK_PRODUCT_MISMATCH": _(
        "The product %(product)s is %(actual)s, not the manufacturerId, deviceType and model of this row."
    ),
    "BULK_PSK": _("psk must be 8 to 32 hexadecimal characters."),
    "BULK_TIMEOUT": _("timeout must be a whole number of seconds from 0 to 2147483647."),
    "BULK_QUOTA": _("Over the application's device quota of %(quota)s: %(left)s devices could still be registered."),
    # When the job runs
    "BULK_PRODUCT_GONE": _("The product was deleted after the file was checked."),
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong, where it is: `row` as a spreadsheet numbers it (None: the whole file)."""

    code: str
    column: str = ""
    row: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """The message in the active language."""
        return str(MESSAGES[self.code]) % dict(self.params)

    def as_json(self) -> dict[str, Any]:
        """How a row keeps it: the message is made when shown, in the reader's language."""
        return {"column": self.column, "code": self.code, "params": dict(self.params)}

    @classmethod
    def from_json(cls, row: int, value: Mapping[str, Any]) -> Problem:
        return cls(value["code"], value.get("column", ""), row, value.get("params") or {})


class BulkFileInvalid(Exception):
    """The file as a whole cannot be used (not CSV or XLSX, no header, an unknown column...)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(problem.message for problem in problems))
        self.problems = problems


class BulkNotStartable(Exception):
    """A start of a job that is not a dry run with rows to register, or has bad rows in all-or-nothing."""


# --- Reading the file ------------------------------------------------------------------------------


@dataclass
class Table:
    """The file's columns (canonical names) and its device rows: (row number, cells)."""

    columns: list[str]
    records: list[tuple[int, list[str]]]


def read_upload(stream: Any, size: int | None) -> bytes:
    """The bytes of an uploaded file, refusing one over BULK_REGISTRATION_MAX_BYTES before reading it."""
    limit = settings.BULK_REGISTRATION_MAX_BYTES
    if size is not None and size > limit:
        raise BulkFileInvalid([Problem("BULK_FILE_TOO_LARGE", params={"size": size, "limit": limit})])
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise BulkFileInvalid([Problem("BULK_FILE_TOO_LARGE", params={"size": f"> {limit}", "limit": limit})])
    return data


def read_table(file_name: str, data: bytes) -> Table:
    """The file's header and rows; CSV (UTF-8, or GB18030 as Chinese Excel saves it) or XLSX (first sheet)."""
    suffix = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    if not data:
        raise BulkFileInvalid([Problem("BULK_FILE_EMPTY")])
    if data.startswith(b"PK\x03\x04"):
        lines = _xlsx_lines(file_name, data)
    elif data.startswith(b"\xd0\xcf\x11\xe0") or suffix not in ("csv", "txt", ""):
        raise BulkFileInvalid([Problem("BULK_FILE_TYPE")])
    else:
        lines = _csv_lines(file_name, data)
    return _table(lines)


def _csv_lines(file_name: str, data: bytes) -> Iterator[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise _unreadable(file_name, "CSV", _("the text is neither UTF-8 nor GB18030.")) from None
    if "\x00" in text:
        raise _unreadable(file_name, "CSV", _("it contains NUL characters: is it a binary file?"))
    header_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=header_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        yield from reader
    except csv.Error as error:
        reason = _("row %(row)s: %(reason)s") % {"row": reader.line_num, "reason": error}
        raise _unreadable(file_name, "CSV", reason) from None


def _xlsx_lines(file_name: str, data: bytes) -> Iterator[list[str]]:
    import openpyxl

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            if unpacked > 10 * settings.BULK_REGISTRATION_MAX_BYTES:
                reason = _("it unpacks to %(size)s bytes, too many for its size.") % {"size": unpacked}
                raise _unreadable(file_name, "XLSX", reason)
            _refuse_dtds(file_name, archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError, EOFError):
        raise _unreadable(file_name, "XLSX", _("it is not a valid .xlsx file.")) from None
    # openpyxl parses with defusedxml (installed for it), which refuses entity declarations again.
    # It raises many kinds of errors (KeyError, InvalidFileException, XML errors), when opening and
    # while reading the sheet (read-only mode parses lazily): each is the file's problem.
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:
        raise _unreadable(file_name, "XLSX", str(error) or type(error).__name__) from None
    try:
        sheet = workbook.worksheets[0]
        expected = 1
        for row in sheet.iter_rows():
            number = next((cell.row for cell in row if hasattr(cell, "row")), expected)
            while expected < number:  # rows the sheet leaves out are empty rows
                yield []
                expected += 1
            yield [_cell_text(cell.value) for cell in row]
            expected += 1
    except Exception as error:
        raise _unreadable(file_name, "XLSX", str(error) or type(error).__name__) from None
    finally:
        workbook.close()


PROLOGUE_LIMIT = 1024 * 1024  # bytes of an XML part read before its first element


class _PrologueRead(Exception):
    """The root element began: the document can no longer declare a DTD."""


def _refuse_dtds(file_name: str, archive: zipfile.ZipFile) -> None:
    """Refuse an .xlsx any of whose XML parts declares a DTD (and so could declare entities).

    Excel never writes one. Only each part's prologue is read: expat stops at the first element.
    """
    for info in archive.infolist():
        if info.is_dir():
            continue
        parser = expat.ParserCreate()

        def doctype(*args: object, part: str = info.filename) -> None:
            raise _unreadable(
                file_name, "XLSX", _("its part %(part)s declares a DTD, which is refused.") % {"part": part}
            )

        def element(*args: object) -> None:
            raise _PrologueRead

        parser.StartDoctypeDeclHandler = doctype
        parser.EntityDeclHandler = doctype
        parser.StartElementHandler = element
        with archive.open(info) as member:
            try:
                read = 0
                while chunk := member.read(65536):
                    parser.Parse(chunk, False)
                    read += len(chunk)
                    if read > PROLOGUE_LIMIT:
                        reason = _("its part %(part)s has no element in its first %(size)s bytes.")
                        raise _unreadable(file_name, "XLSX", reason % {"part": info.filename, "size": PROLOGUE_LIMIT})
                parser.Parse(b"", True)
            except _PrologueRead:
                continue
            except expat.ExpatError:
                continue  # not XML (an image, a binary part) or broken: openpyxl judges what it reads


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an IMEI or a timeout typed as a number
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _unreadable(file_name: str, kind: str, reason: Any) -> BulkFileInvalid:
    params = {"file": file_name, "kind": kind, "reason": str(reason)}
    return BulkFileInvalid([Problem("BULK_FILE_UNREADABLE", params=params)])


def _canonical(header: str) -> str | None:
    return ALIASES.get(re.sub(r"[\s_\-]", "", header.lower()))


def _table(lines: Iterator[list[str]]) -> Table:
    limit = settings.BULK_REGISTRATION_MAX_ROWS
    header: list[str] | None = None
    records: list[tuple[int, list[str]]] = []
    for number, cells in enumerate(lines, start=1):
        cells = [cell.strip() for cell in cells]
        if not any(cells):
            continue
        if header is None:
            header = cells
            continue
        if len(records) == limit:
            raise BulkFileInvalid([Problem("BULK_TOO_MANY_ROWS", params={"limit": limit})])
        records.append((number, cells))
    if header is None:
        raise BulkFileInvalid([Problem("BULK_FILE_EMPTY")])
    problems, columns = [], []
    for text in header:
        column = _canonical(text) if text else ""  # a column without a name is ignored, if it stays empty
        if column is None:
            problems.append(Problem("BULK_COLUMN_UNKNOWN", text, 1, {"column": text}))
        elif column and column in columns:
            problems.append(Problem("BULK_COLUMN_REPEATED", column, 1, {"column": column}))
        columns.append(column or "")
    if "nodeId" not in columns:
        problems.append(Problem("BULK_COLUMN_MISSING", "nodeId", 1, {"column": "nodeId"}))
    if "product" not in columns and not all(column in columns for column in PRODUCT_KEY):
        problems.append(Problem("BULK_PRODUCT_COLUMNS", "product", 1))
    if problems:
        raise BulkFileInvalid(problems)
    if not records:
        raise BulkFileInvalid([Problem("BULK_NO_ROWS")])
    return Table(columns, records)


# --- The dry run -----------------------------------------------------------------------------------


@dataclass
class CheckedRow:
    """One device row after the dry run: its values, and its problems or what it will do."""

    row_number: int
    node_id: str
    verify_code: str
    name: str
    product: Product | None
    psk: str  # as the file gives it; empty: generated when stored
    timeout: int | None
    problems: list[Problem] = field(default_factory=list)
    status: str = BulkRowStatus.PENDING
    device_id: str = ""

    def add(self, code: str, column: str = "", **params: Any) -> None:
        self.problems.append(Problem(code, column, self.row_number, params))


def _column_letters(index: int) -> str:
    """A spreadsheet's name of the 0-based column: A, B, ..., Z, AA."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def luhn_digit(body: str) -> int:
    """The check digit that completes `body` (the first 14 digits of an IMEI)."""
    total = 0
    for index, char in enumerate(reversed(body)):
        digit = int(char)
        if index % 2 == 0:  # from the right, every other digit of the body is doubled
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def is_imei(node_id: str) -> bool:
    return len(node_id) == 15 and node_id.isascii() and node_id.isdigit()


class _Products:
    """The application's products, by product id and by (manufacturerId, model), loaded once."""

    def __init__(self, application: Application) -> None:
        products = list(
            Product.objects.filter(application=application).only(
                "pk", "product_id", "application_id", "manufacturer_id", "device_type", "model"
            )
        )
        self.by_id = {str(product.product_id): product for product in products}
        self.by_key = {(product.manufacturer_id, product.model): product for product in products}

    def resolve(self, row: CheckedRow, values: Mapping[str, str]) -> Product | None:
        product_id = values.get("product", "")
        given = {column: values.get(column, "") for column in PRODUCT_KEY}
        named = None
        if any(given.values()):
            missing = [column for column, value in given.items() if not value]
            if missing:
                row.add("BULK_PRODUCT_INCOMPLETE", missing[0], missing=", ".join(missing))
                return None
            named = self.by_key.get((given["manufacturerId"], given["model"]))
            if named is not None and named.device_type != given["deviceType"]:
                named = None
            if named is None and not product_id:
                row.add("BULK_PRODUCT_NOT_FOUND", "model", product=" / ".join(given.values()))
                return None
        if product_id:
            product = self.by_id.get(product_id.lower())
            if product is None:
                row.add("BULK_PRODUCT_NOT_FOUND", "product", product=product_id)
                return None
            if any(given.values()) and product != named:
                actual = f"{product.manufacturer_id} / {product.device_type} / {product.model}"
                row.add("BULK_PRODUCT_MISMATCH", "product", product=product_id, actual=actual)
                return None
            return product
        if named is None:
            row.add("BULK_PRODUCT_REQUIRED", "product")
        return named


def _check_row(number: int, cells: list[str], columns: list[str], products: _Products) -> CheckedRow:
    values = dict(zip(columns, cells, strict=False))
    node_id = values.get("nodeId", "")
    row = CheckedRow(
        number,
        node_id,
        values.get("verifyCode", "") or node_id,
        values.get("name", ""),
        None,
        values.get("psk", ""),
        None,
    )
    named = len(columns)
    stray = next((index for index, cell in enumerate(cells) if cell and (index >= named or not columns[index])), None)
    if stray is not None:
        row.add("BULK_EXTRA_CELLS", "", cell=f"{_column_letters(stray)}{number}")
    if not node_id:
        row.add("BULK_NODE_ID_REQUIRED", "nodeId")
    elif len(node_id) > 256:
        row.add("BULK_NODE_ID_TOO_LONG", "nodeId")
    elif is_imei(node_id) and luhn_digit(node_id[:14]) != int(node_id[14]):
        row.add("BULK_IMEI_CHECK_DIGIT", "nodeId", node_id=node_id, expected=luhn_digit(node_id[:14]))
    if len(row.verify_code) > 256:
        row.add("BULK_VERIFY_CODE_TOO_LONG", "verifyCode")
    if len(row.name) > 256:
        row.add("BULK_NAME_TOO_LONG", "name")
    row.product = products.resolve(row, values)
    if row.psk and not PSK_PATTERN.match(row.psk):
        row.add("BULK_PSK", "psk")
    timeout = values.get("timeout", "")
    if timeout:
        if timeout.isascii() and timeout.isdigit() and int(timeout) <= MAX_TIMEOUT:
            row.timeout = int(timeout)
        else:
            row.add("BULK_TIMEOUT", "timeout")
    else:
        # No timeout (None, kept on the row): the device never expires. A file is an operator's plan, not
        # an API call inheriting the original's 180 s default; thousands of devices must not vanish silently.
        row.timeout = None
    return row


def _difference(device: Mapping[str, Any], row: CheckedRow | PendingRow, psk: str) -> tuple[str, str] | None:
    """The first column where an existing device of the application differs from the row, with the
    device's value; None when the row is what is registered already (`psk`: the row's, if it gave one)."""
    product_id = row.product.pk if isinstance(row, CheckedRow) and row.product else getattr(row, "product_id", None)
    if device["product_id"] != product_id:
        current = " / ".join(device[name] for name in ("manufacturer_id", "device_type", "model") if device[name])
        return "product", current or "—"
    for column, name, value in (("verifyCode", "verify_code", row.verify_code), ("name", "name", row.name)):
        if device[name] != value:
            return column, device[name]
    if row.timeout is not None and device["timeout"] != row.timeout:  # an empty cell asks for nothing
        return "timeout", str(device["timeout"])
    if psk and secrets.decrypt(device["psk_encrypted"]) != psk:
        return "psk", "••••••••"
    return None


EXISTING_FIELDS = (
    "node_id",
    "device_id",
    "application_id",
    "product_id",
    "manufacturer_id",
    "device_type",
    "model",
    "verify_code",
    "name",
    "timeout",
    "psk_encrypted",
)


def _existing(node_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The registered devices among these nodeIds, by nodeId (any application: one IMEI, one device).

    `node_id = ANY(array)`: one parameter, where an IN list would bind (and parse) one per nodeId."""
    found: dict[str, dict[str, Any]] = {}
    statement = f"SELECT {', '.join(EXISTING_FIELDS)} FROM devices_device WHERE node_id = ANY(%s)"  # noqa: S608
    with connection.cursor() as cursor:
        for start in range(0, len(node_ids), 10_000):
            cursor.execute(statement, [list(node_ids[start : start + 10_000])])
            for values in cursor.fetchall():
                found[values[0]] = dict(zip(EXISTING_FIELDS, values, strict=True))
    return found


def check_table(application: Application, table: Table) -> list[CheckedRow]:
    """The dry run: every row checked against every rule, nothing written."""
    products = _Products(application)
    rows = [_check_row(number, cells, table.columns, products) for number, cells in table.records]
    by_node: dict[str, list[CheckedRow]] = {}
    for row in rows:
        if row.node_id:
            by_node.setdefault(row.node_id, []).append(row)
    for node_id, same in by_node.items():
        if len(same) > 1:
            for row in same:
                others = [str(other.row_number) for other in same if other is not row]
                shown = ", ".join(others[:5]) + (" …" if len(others) > 5 else "")
                row.add("BULK_NODE_ID_REPEATED", "nodeId", node_id=node_id, rows=shown)
    existing = _existing([row.node_id for row in rows if row.node_id and len(row.node_id) <= 256])
    for row in rows:
        device = existing.get(row.node_id)
        if device is None or row.problems:
            continue
        if device["application_id"] != application.pk:
            row.add("BULK_NODE_ID_TAKEN", "nodeId", node_id=row.node_id)
        elif difference := _difference(device, row, row.psk):
            column, current = difference
            row.add("BULK_REGISTERED_DIFFERENTLY", column, node_id=row.node_id, field=column, current=current)
        else:
            row.status, row.device_id = BulkRowStatus.ALREADY_REGISTERED, device["device_id"]
    pending = [row for row in rows if not row.problems and row.status == BulkRowStatus.PENDING]
    left = max(0, application.device_quota - Device.objects.filter(application=application).count())
    for row in pending[left:]:
        row.add("BULK_QUOTA", "", quota=application.device_quota, left=left)
    for row in rows:
        if row.problems:
            row.status = BulkRowStatus.INVALID
    return rows


# --- Creating and starting a job -------------------------------------------------------------------


def check_mode(mode: Any) -> str:
    if mode not in BulkMode.values:
        raise ValueError(mode)
    return mode


def do_create_bulk_registration(
    application: Application,
    file_name: str,
    data: bytes,
    *,
    mode: str = BulkMode.ALL_OR_NOTHING,
    dry_run: bool = False,
    created_by: Any = None,
) -> BulkRegistration:
    """Check a file (raises BulkFileInvalid) and store it as a job with its rows.

    A dry run stays `checked` until started; an all-or-nothing file with bad rows is `rejected`;
    anything else is queued for the background job once this transaction commits.
    """
    rows = check_table(application, read_table(file_name, data))
    invalid = sum(1 for row in rows if row.status == BulkRowStatus.INVALID)
    already = sum(1 for row in rows if row.status == BulkRowStatus.ALREADY_REGISTERED)
    with transaction.atomic():
        job = BulkRegistration.objects.create(
            application=application,
            created_by=created_by,
            file_name=file_name[:255],
            mode=check_mode(mode),
            total_rows=len(rows),
            invalid_rows=invalid,
            already_registered_rows=already,
        )
        _store_rows(job, rows)
        if not dry_run:
            if job.mode == BulkMode.ALL_OR_NOTHING and invalid:
                job.state, job.finished_at = BulkState.REJECTED, timezone.now()
                job.save(update_fields=["state", "finished_at"])
                _not_registered(job)
            else:
                _queue(job)
                _audit_bulk(job)
    return job


def _audit_bulk(job: BulkRegistration) -> None:
    # One event per job, not per device: a file registers up to BULK_REGISTRATION_MAX_ROWS devices.
    detail = {"file": job.file_name, "mode": job.mode, "rows": job.total_rows, "invalidRows": job.invalid_rows}
    audit.record(
        "bulk_registration.started", application_id=job.application_id, target=f"job {job.job_id}", detail=detail
    )


def _store_rows(job: BulkRegistration, rows: list[CheckedRow]) -> None:
    """COPY the rows; a pending row's psk (given or generated now) is stored encrypted, as the device's."""
    columns = ("job_id", "row_number", "node_id", "verify_code", "name", "product_id", "psk_encrypted",
               "psk_generated", "timeout", "status", "problems", "device_id")  # fmt: skip

    def values() -> Iterator[tuple]:
        for row in rows:
            psk, generated = "", False
            if row.status == BulkRowStatus.PENDING:
                psk, generated = (row.psk, False) if row.psk else (random.token_hex(16), True)
            yield (
                job.pk,
                row.row_number,
                row.node_id,
                row.verify_code,
                row.name,
                row.product.pk if row.product else None,
                secrets.encrypt(psk),
                generated,
                row.timeout,
                row.status,
                Jsonb([problem.as_json() for problem in row.problems]),
                row.device_id,
            )

    copy_rows(BulkRegistrationRow._meta.db_table, columns, values())


def _queue(job: BulkRegistration) -> None:
    """Queue the job's task once the transaction commits (done at once when no row is left to register)."""
    if not job.to_register:
        job.state, job.finished_at = BulkState.DONE, timezone.now()
        job.save(update_fields=["state", "finished_at"])
        return
    job.state, job.queued_rows = BulkState.QUEUED, job.to_register
    job.save(update_fields=["state", "queued_rows"])
    job_pk = job.pk

    def send() -> None:
        from devices.tasks import run_bulk_registration

        run_bulk_registration.apply_async((job_pk,), queue=settings.BULK_REGISTRATION_QUEUE)

    transaction.on_commit(send)


@transaction.atomic
def do_start_bulk_registration(job: BulkRegistration) -> BulkRegistration:
    """Queue a dry run's job; BulkNotStartable unless it is `checked`, has rows to register and, in
    all-or-nothing mode, no bad row."""
    job = BulkRegistration.objects.select_for_update().get(pk=job.pk)
    if not job.can_start():
        raise BulkNotStartable(job.state)
    _queue(job)
    _audit_bulk(job)
    return job


def _not_registered(job: BulkRegistration) -> None:
    """All-or-nothing gave up: the rows that were to be registered are not."""
    job.rows.filter(status=BulkRowStatus.PENDING).update(status=BulkRowStatus.NOT_REGISTERED)


# --- The job ---------------------------------------------------------------------------------------


class PendingRow(NamedTuple):
    """What a batch needs of a row waiting to be registered (read as tuples: no model instances)."""

    pk: int
    row_number: int
    node_id: str
    verify_code: str
    name: str
    product_id: int | None
    psk_encrypted: str
    psk_generated: bool
    timeout: int | None  # None: the file gave none, the device never expires

    @property
    def given_psk(self) -> str:
        """The psk the file gave (compared with a registered device's), or empty when it was generated."""
        return "" if self.psk_generated else secrets.decrypt(self.psk_encrypted)


@dataclass
class BatchResult:
    """What one batch did, row by row: registered (with the new deviceId), already there, or failed."""

    registered: list[tuple[PendingRow, str]] = field(default_factory=list)
    already: list[tuple[PendingRow, str]] = field(default_factory=list)
    failed: list[tuple[PendingRow, Problem]] = field(default_factory=list)


class _AllOrNothingFailed(Exception):
    def __init__(self, failed: list[tuple[PendingRow, Problem]]) -> None:
        super().__init__(f"{len(failed)} rows failed")
        self.failed = failed


def run_job(job_pk: int) -> dict[str, int]:
    """Register a queued job's pending rows (the task's body). Idempotent: a job already finished, or
    rows already registered, are left as they are; a job a dead worker left `running` goes on."""
    claimed = BulkRegistration.objects.filter(pk=job_pk, state__in=[BulkState.QUEUED, BulkState.RUNNING]).update(
        state=BulkState.RUNNING, started_at=Coalesce(F("started_at"), timezone.now())
    )
    if not claimed:
        return {"skipped": 1}
    job = BulkRegistration.objects.select_related("application").get(pk=job_pk)
    if job.mode == BulkMode.ALL_OR_NOTHING:
        _run_all_or_nothing(job)
    else:
        _run_skipping_bad_rows(job)
    job = _publish(job.pk)
    return {"registered": job.registered_rows, "already": job.already_registered_rows, "failed": job.failed_rows}


def _pending(job: BulkRegistration, *, skip_locked: bool) -> list[PendingRow]:
    """The next batch of the job's pending rows, locked (skipping rows another run holds, if asked)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, row_number, node_id, verify_code, name, product_id, psk_encrypted, psk_generated, timeout "
            "FROM devices_bulkregistrationrow WHERE job_id = %s AND status = %s ORDER BY row_number LIMIT %s "
            + ("FOR UPDATE SKIP LOCKED" if skip_locked else "FOR UPDATE"),
            [job.pk, BulkRowStatus.PENDING, settings.BULK_REGISTRATION_CHUNK],
        )
        return [PendingRow(*values) for values in cursor.fetchall()]


def _run_skipping_bad_rows(job: BulkRegistration) -> None:
    """One transaction per batch; a failed row is recorded and the others go on."""
    while True:
        with transaction.atomic():
            rows = _pending(job, skip_locked=True)  # a second run works on other rows, or on none
            if not rows:
                break
            application = Application.objects.select_for_update().get(pk=job.application_id)
            _record(job, register_batch(application, rows, job=job))
            _publish(job.pk)
        _show_progress(job)
    with transaction.atomic():
        pending = BulkRegistrationRow.objects.filter(job=OuterRef("pk"), status=BulkRowStatus.PENDING)
        BulkRegistration.objects.filter(pk=job.pk, state=BulkState.RUNNING).exclude(Exists(pending)).update(
            state=BulkState.DONE, finished_at=timezone.now()
        )


def _run_all_or_nothing(job: BulkRegistration) -> None:
    """Every row in one transaction: one failure rolls all back, and the job fails naming it."""
    try:
        with transaction.atomic():
            # A second run waits here, then finds the job finished.
            locked = BulkRegistration.objects.select_for_update().get(pk=job.pk)
            if locked.state != BulkState.RUNNING:
                return
            application = Application.objects.select_for_update().get(pk=job.application_id)
            while rows := _pending(job, skip_locked=False):
                result = register_batch(application, rows, job=job)
                if result.failed:
                    raise _AllOrNothingFailed(result.failed)
                _record(job, result)
                _show_progress(job)
            BulkRegistration.objects.filter(pk=job.pk).update(state=BulkState.DONE, finished_at=timezone.now())
    except _AllOrNothingFailed as failure:
        with transaction.atomic():
            _record(job, BatchResult(failed=failure.failed))
            _not_registered(job)
            BulkRegistration.objects.filter(pk=job.pk).update(state=BulkState.FAILED, finished_at=timezone.now())


def _record(job: BulkRegistration, result: BatchResult) -> None:
    """Write each row's outcome (one UPDATE) and add it to the job's counters (one UPDATE)."""
    ids, statuses, device_ids, problems = [], [], [], []
    for row, device_id in result.registered:
        ids.append(row.pk), statuses.append(BulkRowStatus.REGISTERED), device_ids.append(device_id)
        problems.append("[]")
    for row, device_id in result.already:
        ids.append(row.pk), statuses.append(BulkRowStatus.ALREADY_REGISTERED), device_ids.append(device_id)
        problems.append("[]")
    for row, problem in result.failed:
        ids.append(row.pk), statuses.append(BulkRowStatus.FAILED), device_ids.append("")
        problems.append(json.dumps([problem.as_json()], ensure_ascii=False))
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE devices_bulkregistrationrow AS r SET status = v.status, device_id = v.device_id, "
            "problems = v.problems::jsonb FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[]) "
            "AS v(id, status, device_id, problems) WHERE r.id = v.id",
            [ids, statuses, device_ids, problems],
        )
    BulkRegistration.objects.filter(pk=job.pk).update(
        processed_rows=F("processed_rows") + len(ids),
        registered_rows=F("registered_rows") + len(result.registered),
        already_registered_rows=F("already_registered_rows") + len(result.already),
        failed_rows=F("failed_rows") + len(result.failed),
    )


def register_batch(application: Application, rows: list[PendingRow], *, job: BulkRegistration) -> BatchResult:
    """Register a batch of checked rows with do_register_device's rules, in a few statements.

    The caller holds the application's row lock (the quota is counted under it). A nodeId that
    another registration takes between the check here and the insert fails the insert: the batch is
    tried again from a savepoint, and that row then shows as taken.
    """
    for attempt in range(3):
        try:
            with transaction.atomic():
                return _register_batch(application, rows, job)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _register_batch(application: Application, rows: list[PendingRow], job: BulkRegistration) -> BatchResult:
    result = BatchResult()
    existing = _existing([row.node_id for row in rows])
    to_register: list[PendingRow] = []
    for row in rows:
        device = existing.get(row.node_id)
        if device is None:
            to_register.append(row)
        elif device["application_id"] != application.pk:
            taken = Problem("BULK_NODE_ID_TAKEN", "nodeId", row.row_number, {"node_id": row.node_id})
            result.failed.append((row, taken))
        elif difference := _difference(device, row, row.given_psk):
            column, current = difference
            params = {"node_id": row.node_id, "field": column, "current": current}
            result.failed.append((row, Problem("BULK_REGISTERED_DIFFERENTLY", column, row.row_number, params)))
        else:
            result.already.append((row, device["device_id"]))
    # The product tie, under the products' row locks (the profile lock counts devices under them, F-2.9).
    product_ids = sorted({row.product_id for row in to_register if row.product_id})
    products = {
        product.pk: product
        for product in Product.objects.select_for_update(no_key=True)
        .filter(pk__in=product_ids, application=application)
        .order_by("pk")
        .only(*PRODUCT_FIELDS)
    }
    ready = []
    for row in to_register:
        if row.product_id in products:
            ready.append(row)
        else:
            result.failed.append((row, Problem("BULK_PRODUCT_GONE", "product", row.row_number)))
    left = max(0, application.device_quota - Device.objects.filter(application=application).count())
    for row in ready[left:]:
        params = {"quota": application.device_quota, "left": left}
        result.failed.append((row, Problem("BULK_QUOTA", "", row.row_number, params)))
    ready = ready[:left]
    if not ready:
        return result
    now = timezone.now()
    default_columns, default_values = _defaults(Device, DEVICE_COLUMNS)
    # deviceInfo is the same for every device of a product but for nodeId and name: made once per product.
    infos = {pk: device_info(_prototype(application, product)) for pk, product in products.items()}
    devices, logs, added = [], [], []
    source = f"bulk registration {job.file_name}"
    for row, pk in zip(ready, _next_ids(len(ready)), strict=True):
        product = products[row.product_id]
        device_id = str(uuid.uuid4())
        deadline = now + dt.timedelta(seconds=row.timeout) if row.timeout else None
        devices.append(
            (pk, device_id, application.pk, row.node_id, row.verify_code, row.name, product.pk,
             product.manufacturer_id, product.manufacturer_name, product.device_type, product.model,
             product.protocol_type, row.psk_encrypted, row.timeout or 0, deadline, now, now, *default_values)
        )  # fmt: skip
        logs.append(
            (pk, application.pk, now, LogKind.INFO,
             f"registered with nodeId {row.node_id} by {source}, row {row.row_number}"[:512], "", None)
        )  # fmt: skip
        info = {**infos[product.pk], "nodeId": row.node_id, "name": row.name or None}
        added.append(payloads.device_added(device_id, device_id, NodeType.ENDPOINT, info))
        result.registered.append((row, device_id))
    copy_rows(Device._meta.db_table, [*DEVICE_COLUMNS, *default_columns], devices)
    copy_rows(DeviceLog._meta.db_table, LOG_COLUMNS, logs)
    push.notify_many(application, nt.DEVICE_ADDED, added)
    return result


PRODUCT_FIELDS = ("pk", "application_id", "manufacturer_id", "manufacturer_name", "device_type", "model",
                  "protocol_type")  # fmt: skip
LOG_COLUMNS = ("device_id", "application_id", "created_at", "kind", "summary", "raw", "detail")


def _prototype(application: Application, product: Product) -> Device:
    """A device as a registration with this product leaves it (for the deviceInfo all of them share)."""
    return Device(
        application=application,
        product=product,
        manufacturer_id=product.manufacturer_id,
        manufacturer_name=product.manufacturer_name,
        device_type=product.device_type,
        model=product.model,
        protocol_type=product.protocol_type,
    )


def _next_ids(count: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('devices_device', 'id')) FROM generate_series(1, %s)", [count]
        )
        return [row[0] for row in cursor.fetchall()]


# The columns each registration sets; every other column gets the model's default, computed once.
DEVICE_COLUMNS = ("id", "device_id", "application_id", "node_id", "verify_code", "name", "product_id",
                  "manufacturer_id", "manufacturer_name", "device_type", "model", "protocol_type", "psk_encrypted",
                  "timeout", "bind_deadline", "created_at", "updated_at")  # fmt: skip


def _defaults(model: type, set_columns: Iterable[str]) -> tuple[list[str], list[Any]]:
    """The other concrete columns of `model` and their default values, as the database takes them."""
    prototype = model()
    set_columns = set(set_columns)
    columns, values = [], []
    for model_field in model._meta.concrete_fields:
        if model_field.column in set_columns:
            continue
        columns.append(model_field.column)
        values.append(model_field.get_db_prep_save(getattr(prototype, model_field.attname), connection))
    return columns, values


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """COPY rows into a table through the current connection (and transaction)."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(column) for column in columns)
    )
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


# --- Progress --------------------------------------------------------------------------------------


def _progress_key(job: BulkRegistration) -> str:
    return key("bulk", job.job_id, "processed")


def _show_progress(job: BulkRegistration) -> None:
    """Rows done so far, readable before the transaction commits (all-or-nothing runs in one)."""
    processed = BulkRegistration.objects.filter(pk=job.pk).values_list("processed_rows", flat=True).first() or 0
    get_redis().set(_progress_key(job), processed, ex=24 * 3600)


def processed_rows(job: BulkRegistration) -> int:
    """How many rows the job has done: the committed count, or a running transaction's own."""
    if job.state != BulkState.RUNNING:
        return job.processed_rows
    shown = get_redis().get(_progress_key(job))
    return max(job.processed_rows, int(shown or 0))


def _publish(job_pk: int) -> BulkRegistration:
    """Tell the job's open pages (over the websocket) once the transaction commits."""
    job = BulkRegistration.objects.get(pk=job_pk)
    data = {
        "jobId": str(job.job_id),
        "state": job.state,
        "processed": job.processed_rows,
        "queued": job.queued_rows,
        "registered": job.registered_rows,
        "failed": job.failed_rows,
    }
    events.publish(job.application_id, "bulk.progress", data)
    return job


# --- The report ------------------------------------------------------------------------------------


def report_lines(job: BulkRegistration, *, with_psk: bool) -> Iterator[list[str]]:
    """The per-row report: one line per row of the file, in its order. Generated psks only `with_psk`
    (accounts that may change the application's devices, and the application itself)."""
    yield list(REPORT_HEADER)
    rows = job.rows.order_by("row_number").only(
        "row_number", "node_id", "name", "status", "device_id", "psk_encrypted", "psk_generated", "problems"
    )
    labels = dict(BulkRowStatus.choices)
    for row in rows.iterator(chunk_size=2000):
        psk = row.psk if with_psk and row.psk_generated and row.status == BulkRowStatus.REGISTERED else ""
        problems = "; ".join(
            f"{problem.column}: {problem.message}" if problem.column else problem.message
            for problem in (Problem.from_json(row.row_number, value) for value in row.problems)
        )
        yield [str(row.row_number), text_cell(row.node_id), text_cell(row.name), str(labels[row.status]),
               row.device_id, psk, text_cell(problems)]  # fmt: skip


class _Echo:
    """A file-like object whose write returns the line: csv.writer for a streamed response."""

    def write(self, value: str) -> str:
        return value


def report_csv(job: BulkRegistration, *, with_psk: bool) -> Iterator[str]:
    """The report as CSV text, streamed."""
    return csv_text(report_lines(job, with_psk=with_psk))


def csv_text(lines: Iterable[list[str]]) -> Iterator[str]:
    """Lines as CSV text, one line at a time for a streamed response: UTF-8 with a BOM, so Excel shows
    names in any script. Cells a user typed go through `text_cell` first."""
    writer = csv.writer(_Echo())
    yield "\ufeff"
    for line in lines:
        yield writer.writerow(line)


def report_file_name(job: BulkRegistration) -> str:
    stem = job.file_name.rsplit(".", 1)[0] or "devices"
    return (
        "".join(char if char.isascii() and (char.isalnum() or char in "-_.") else "_" for char in stem)[:80]
        + "-report.csv"
    )


def text_cell(text: str) -> str:
    # A spreadsheet would run a cell starting with = + - @ as a formula: the report shows it as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def problems_of(job: BulkRegistration, limit: int) -> tuple[list[Problem], int]:
    """The first `limit` problems of the job's rows in file order, and how many rows have problems."""
    rows = job.rows.exclude(problems=[]).order_by("row_number")
    count = rows.count()
    problems = [
        Problem.from_json(row_number, value)
        for row_number, values in rows.values_list("row_number", "problems")[:limit]
        for value in values
    ]
    return problems, count
