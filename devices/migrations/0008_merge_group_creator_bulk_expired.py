from django.db import migrations


class Migration(migrations.Migration):
    """Joins two branches' 0007: group creators (issue 18) and bulk rows that expired later (issue 20)."""

    dependencies = [
        ("devices", "0007_bulk_expired_rows"),
        ("devices", "0007_devicegroup_creator"),
    ]

    operations = []
