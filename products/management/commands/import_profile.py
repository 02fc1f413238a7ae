"""`python manage.py import_profile PATH --app APPID`: a profile zip from disk, as the portal and API take it."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from applications.models import Application
from products import actions
from products.actions import ProductLocked
from products.api.serializers import ProfileDetailSerializer, error_body
from products.models import Product
from products.validation import ProfileInvalid, read_upload, validate_archive


class Command(BaseCommand):
    help = (
        "Import a profile zip (deviceType_manufacturerId_model.zip) into an application, with the same "
        "validation as the portal and POST /api/v1/profiles. Exits with status 1 and lists every issue "
        "(file, line:column, JSON path, code, message) when the profile is refused."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="the profile zip")
        parser.add_argument("--app", required=True, help="appId of the application that will own the product")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="replace the application's product with the same manufacturerId and model instead of adding one",
        )
        parser.add_argument(
            "--json", action="store_true", help="print the API's body: the profile, or the error with its issues"
        )

    def handle(self, *args, path: str, app: str, replace: bool, json: bool, **options) -> None:
        application = Application.objects.filter(app_id=app).first()
        if application is None:
            raise CommandError(f"--app: no application has the appId {app!r}")
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            with file.open("rb") as stream:
                data = read_upload(file.name, stream, file.stat().st_size)
            if replace:
                product = self._replace(application, file.name, data)
            else:
                product = actions.do_import_profile(application, file.name, data)
        except ProfileInvalid as error:
            self._refuse("100022", error.issues, json)
        except ProductLocked as error:
            self._refuse("200002", [error.issue], json)
        if json:
            self.stdout.write(_dumps(ProfileDetailSerializer(product).data))
        else:
            verb = "Replaced" if replace else "Imported"
            self.stdout.write(
                f"{verb} {product.archive_name} into {application.name} ({application.app_id}): "
                f"profileId {product.product_id}, {product.service_count} services."
            )

    def _replace(self, application: Application, name: str, data: bytes) -> Product:
        # The zip names the product to replace by its manufacturerId and model; validation runs again
        # inside do_replace_profile, so a zip that does not match any product is refused as usual.
        device = validate_archive(name, data).device
        product = (
            Product.objects.for_app(application)
            .filter(manufacturer_id=device["manufacturerId"], model=device["model"])
            .first()
        )
        if product is None:
            raise CommandError(
                f"--replace: {application.app_id} has no product with manufacturerId {device['manufacturerId']!r} "
                f"and model {device['model']!r}"
            )
        return actions.do_replace_profile(product, name, data)

    def _refuse(self, code: str, issues: list, as_json: bool) -> None:
        if as_json:
            self.stdout.write(_dumps(error_body(code, issues)))
        else:
            for issue in issues:
                self.stderr.write(str(issue))
        raise CommandError(f"the profile was refused ({len(issues)} issue{'s' if len(issues) != 1 else ''})")


def _dumps(value: dict) -> str:
    return json.dumps(value, ensure_ascii=False)
