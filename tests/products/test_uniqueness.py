"""F-2.7: manufacturerId + model are unique on the whole platform, without saying who holds them."""

import json

import pytest

from products import actions, documents
from products.models import Product
from products.validation import ProfileInvalid
from tests.products.fixtures import (
    WATER_METER_ZIP,
    build_zip,
    changed,
    import_files,
    simple_files,
    upload,
    water_meter_files,
    water_meter_zip,
    zip_name,
)


def test_the_same_application_cannot_import_the_same_pair_twice(owner_app):
    import_files(owner_app)
    with pytest.raises(ProfileInvalid) as refused:
        actions.do_import_profile(owner_app.application, WATER_METER_ZIP, water_meter_zip())
    issue = refused.value.issues[0]
    assert issue.code == "PROFILE_DUPLICATE"
    assert issue.message_en == "The manufacturerId and model already exist."
    assert issue.message_zh == "Profile文件的厂商ID和设备型号已存在，请重新定义。"  # noqa: RUF001
    assert Product.objects.count() == 1


def test_another_application_is_refused_too_and_learns_nothing_about_the_holder(client, owner_app, other_app):
    import_files(owner_app)
    response = client.post(
        "/api/v1/profiles",
        {"file": upload(water_meter_zip(), WATER_METER_ZIP)},
        headers=other_app.headers(),
    )
    assert response.status_code == 400
    assert [error["code"] for error in response.json()["errors"]] == ["PROFILE_DUPLICATE"]
    text = json.dumps(response.json())
    for secret in (owner_app.app_id, owner_app.application.name, str(Product.objects.get().product_id)):
        assert secret not in text
    assert Product.objects.filter(application=other_app.application).count() == 0


def test_a_new_model_of_the_same_manufacturer_is_fine(owner_app):
    import_files(owner_app)
    files = changed(water_meter_files(), "profile/devicetype-capability.json", ("devices", 0, "model"), "v1002")
    actions.do_import_profile(owner_app.application, zip_name(files), build_zip(files))
    assert sorted(Product.objects.values_list("model", flat=True)) == ["v1001", "v1002"]


def test_an_edit_that_takes_another_products_pair_is_refused(owner_app, other_app):
    import_files(other_app)
    product = import_files(owner_app, simple_files())
    edit = documents.set_device(product.profile, {"manufacturerId": "Huawei", "model": "v1001"})
    with pytest.raises(ProfileInvalid) as refused:
        actions.do_edit_profile(product, edit.profile, revision=product.revision)
    assert refused.value.issues[0].code == "PROFILE_DUPLICATE"
    assert Product.objects.get(pk=product.pk).manufacturer_id == "Acme"
