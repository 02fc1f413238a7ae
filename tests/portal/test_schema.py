"""The OpenAPI schema documents every northbound call and validates."""

from django.core.management import call_command


def test_schema_validates_and_names_the_calls(db, tmp_path):
    path = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--file", str(path))
    text = path.read_text()
    for call in (
        "/iocm/app/sec/v1.1.0/login",
        "/iocm/app/reg/v1.1.0/deviceCredentials",
        "/iocm/app/dm/v1.4.0/devices/{device_id}",
        "/iocm/app/data/v1.2.0/deviceDataHistory",
        "/iocm/app/sub/v1.2.0/subscriptions",
        "/api/v1/profiles",
    ):
        assert call + ":" in text, call
    assert "name: app_key" in text
