import pytest

from products.codecs import runtime


@pytest.fixture(autouse=True)
def _fresh_plugin_cache():
    # Compiled plugins are cached per process by codec version primary key, which the test
    # database reuses from test to test.
    runtime.forget_plugins()
    yield
    runtime.forget_plugins()
