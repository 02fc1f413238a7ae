"""Which products are locked by their devices (F-2.9), without knowing what a device is.

A product with registered devices can be neither edited, replaced nor deleted. Devices live in a
higher layer (the devices app, issue 6) that products must not import, so the devices app registers
a counter here when it loads, in its AppConfig.ready():

    from products.locks import register_device_counter

    def count(product_ids):
        rows = Device.objects.filter(product_id__in=product_ids).values("product_id").annotate(n=Count("id"))
        return {row["product_id"]: row["n"] for row in rows}

    register_device_counter(count)

A counter takes product primary keys and returns {pk: number of devices} (missing keys count 0), in
one query, so that a list of products costs one query per counter, not one per product. Until a
counter is registered every product counts 0 devices and nothing is locked.

The check and a device's registration must not race: products.actions counts while holding the
product's row lock (SELECT ... FOR UPDATE), and the devices app must lock the product row too
(FOR SHARE is enough) in the transaction that registers a device.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

DeviceCounter = Callable[[Collection[int]], Mapping[int, int]]

_counters: list[DeviceCounter] = []


def register_device_counter(counter: DeviceCounter) -> Callable[[], None]:
    """Add a counter; returns a function that removes it again (for tests)."""
    _counters.append(counter)

    def unregister() -> None:
        if counter in _counters:
            _counters.remove(counter)

    return unregister


def count_devices(product_ids: Collection[int]) -> dict[int, int]:
    """Devices registered with each product, {pk: count} for every pk asked about."""
    counts = dict.fromkeys(product_ids, 0)
    if not counts:
        return counts
    for counter in list(_counters):
        for product_id, count in counter(list(counts)).items():
            if product_id in counts:
                counts[product_id] += count
    return counts
