"""`python manage.py check_codec PATH`: the plugin checker (F-3.8), the same checks as the upload.

PATH is the plugin's zip, or its folder (zipped in memory as the upload would be). With `--profile`
(a profile zip) or `--product` (a stored product's profileId) the mapping and the decoded values are
checked against that profile too. Exit status 0 when the plugin passes, 1 with every issue otherwise.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from products.api.codec_serializers import error_body
from products.codecs.checker import Report, check_package
from products.codecs.profile import ProfileIndex, index_for
from products.models import Product
from products.validation import ProfileInvalid, validate_archive


def zip_folder(folder: Path) -> bytes:
    """The folder's files in a zip, names relative to it, as a developer would zip it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


class Command(BaseCommand):
    help = (
        "Check a codec plugin (a zip, or its folder): manifest, syntax, functions, test vectors, time per "
        "call; the same checks as the portal's upload and POST /api/v1/codecs. Exits with status 1 and "
        "lists every issue (file, path, code, message, fix) when the plugin is refused."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="the plugin's zip or folder")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--profile", help="a profile zip to check the plugin's values against")
        group.add_argument("--product", help="profileId of a stored product to check the plugin's values against")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, path: str, profile: str | None, product: str | None, json: bool, **options) -> None:
        target = Path(path)
        if target.is_dir():
            name, data = f"{target.name}.zip", zip_folder(target)
        elif target.is_file():
            name, data = target.name, target.read_bytes()
        else:
            raise CommandError(f"{path}: no such file or folder")
        report = check_package(name, data, index=self._index(profile, product))
        if json:
            body = report.as_dict()
            if not report.passed:
                body = {**error_body("100022", report.issues), "check": body}
            self.stdout.write(_dumps(body))
        else:
            self._print(report)
        if not report.passed:
            count = len(report.issues)
            raise CommandError(f"the plugin was refused ({count} issue{'s' if count != 1 else ''})")

    def _index(self, profile: str | None, product: str | None) -> ProfileIndex | None:
        if profile is not None:
            file = Path(profile)
            if not file.is_file():
                raise CommandError(f"--profile: {profile}: no such file")
            try:
                return ProfileIndex.from_profile(validate_archive(file.name, file.read_bytes()).profile)
            except ProfileInvalid as error:
                raise CommandError(f"--profile: the profile is invalid: {error}") from None
        if product is not None:
            try:
                key = uuid.UUID(product)
            except ValueError:
                raise CommandError(f"--product: {product!r} is not a profileId") from None
            found = Product.objects.filter(product_id=key).first()
            if found is None:
                raise CommandError(f"--product: no product has the profileId {product}")
            return index_for(found)
        return None

    def _print(self, report: Report) -> None:
        package = report.package
        if package is not None:
            self.stdout.write(
                f"{report.file_name}: {package.manufacturer_id} {package.model}, version {package.version}, "
                f"entry {package.entry}"
            )
        if report.functions:
            self.stdout.write(f"functions: {', '.join(report.functions)}")
        for result in report.results:
            self.stdout.write(f"{result.direction} vector {result.name!r}: {'ok' if result.passed else 'FAILED'}")
        for function, milliseconds in report.timings.items():
            self.stdout.write(f"{function}: {milliseconds * 1000:.1f} µs per call")
        for found in report.warnings:
            self.stdout.write(f"warning: {found}")
            self.stdout.write(f"    fix: {found.fix_en}")
        for found in report.issues:
            self.stderr.write(str(found))
            self.stderr.write(f"    fix: {found.fix_en}")
        for line in report.logs:
            self.stderr.write(f"    log: {line}")
        if report.passed:
            self.stdout.write("passed")


def _dumps(value: dict) -> str:
    return json.dumps(value, ensure_ascii=False)
