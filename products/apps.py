from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProductsConfig(AppConfig):
    """Products: profiles (product models) now, codec plugins with issue 4: together they describe a product."""

    name = "products"
    verbose_name = _("Products")
