from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("products", "0004_lwm2m_gateway"),
    ]

    operations = [
        migrations.AddField(
            model_name="codec",
            name="uplink_ports",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
