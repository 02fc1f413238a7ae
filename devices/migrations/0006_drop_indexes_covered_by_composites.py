"""Drop the single-column index of devicelog.device: device_log_recent leads with it, and every log
row (one per uplink, command, status change) paid its insertion.

Only the index goes (Django's AlterField would also drop and re-add the foreign key, validating every
row under a lock)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("devices", "0005_product_secret"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "devices_devicelog_device_id_40c482b1"',
                    'CREATE INDEX "devices_devicelog_device_id_40c482b1" ON "devices_devicelog" ("device_id")',
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="devicelog",
                    name="device",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="logs",
                        to="devices.device",
                    ),
                ),
            ],
        )
    ]
