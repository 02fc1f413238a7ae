"""DELETE /api/v1/profiles/{id}: only the owner's, only when no device uses it."""

from products.models import Product
from tests.products.fixtures import import_files


def _url(product) -> str:
    return f"/api/v1/profiles/{product.product_id}"


def test_the_owner_deletes_its_profile(client, owner_app):
    product = import_files(owner_app)
    response = client.delete(_url(product), headers=owner_app.headers())
    assert response.status_code == 204
    assert not Product.objects.exists()
    assert client.get(_url(product), headers=owner_app.headers()).status_code == 404


def test_another_application_gets_404_and_nothing_is_deleted(client, owner_app, other_app):
    product = import_files(owner_app)
    response = client.delete(_url(product), headers=other_app.headers())
    assert response.status_code == 404
    assert Product.objects.filter(pk=product.pk).exists()


def test_anonymous_is_refused_and_nothing_is_deleted(client, owner_app):
    product = import_files(owner_app)
    response = client.delete(_url(product))
    assert response.status_code == 403
    assert Product.objects.filter(pk=product.pk).exists()


def test_after_deleting_the_pair_is_free_again(client, owner_app, other_app):
    product = import_files(owner_app)
    client.delete(_url(product), headers=owner_app.headers())
    assert import_files(other_app).application == other_app.application
