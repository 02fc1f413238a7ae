import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.applications.fixtures import login


def test_json_output_gives_working_credentials(client, db):
    out = StringIO()
    call_command("create_app", "--name", "Scripted", "--json", stdout=out)
    credentials = json.loads(out.getvalue())
    assert set(credentials) == {"appId", "secret"}
    assert login(client, credentials["appId"], credentials["secret"]).status_code == 200


def test_empty_name_is_refused(db):
    with pytest.raises(CommandError, match="--name"):
        call_command("create_app", "--name", "  ", "--json")


def test_unknown_owner_is_refused(db):
    with pytest.raises(CommandError, match="no account"):
        call_command("create_app", "--name", "X", "--owner", "nobody")
