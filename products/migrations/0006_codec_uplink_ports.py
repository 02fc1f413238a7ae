from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("products", "0005_lwm2m_object19"),
    ]

    operations = [
        migrations.AddField(
            model_name="codec",
            name="uplink_ports",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
