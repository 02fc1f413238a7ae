"""Drop the single-column indexes of command.application and command.device: command_list and
command_device_list lead with those columns, and each index costs every creation an insertion.

Only the indexes go (Django's AlterField would also drop and re-add the foreign keys, validating
every row under a lock)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0003_uplink_flow_control"),
        ("commands", "0003_create_command_function"),
        ("devices", "0006_drop_indexes_covered_by_composites"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "commands_command_application_id_ce3c6fe6"',
                    'CREATE INDEX "commands_command_application_id_ce3c6fe6" ON "commands_command" ("application_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "commands_command_device_id_b1493cf7"',
                    'CREATE INDEX "commands_command_device_id_b1493cf7" ON "commands_command" ("device_id")',
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="command",
                    name="application",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="commands",
                        to="applications.application",
                    ),
                ),
                migrations.AlterField(
                    model_name="command",
                    name="device",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="commands",
                        to="devices.device",
                    ),
                ),
            ],
        )
    ]
