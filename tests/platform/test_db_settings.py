"""DB_PGBOUNCER: what PgBouncer's transaction mode needs of every process (docs/multi-node.md)."""

from __future__ import annotations

import json

from tests.conftest import manage

SHOW = (
    "import json; from django.conf import settings; db = settings.DATABASES['default']; "
    "print(json.dumps({'prepare': db['OPTIONS'].get('prepare_threshold', 'unset'), "
    "'server_side_cursors_off': db.get('DISABLE_SERVER_SIDE_CURSORS', False)}))"
)


def database_settings(**env: str) -> dict:
    done = manage("shell", "-c", SHOW, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_behind_pgbouncer_nothing_is_prepared_and_no_server_side_cursor_is_opened():
    assert database_settings(DB_PGBOUNCER="true") == {"prepare": None, "server_side_cursors_off": True}


def test_without_pgbouncer_the_defaults_stay():
    assert database_settings(DB_PGBOUNCER="false") == {"prepare": "unset", "server_side_cursors_off": False}
