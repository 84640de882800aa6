from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Cita",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("title", models.CharField(blank=True, default="", max_length=255)),
                ("contact_id", models.CharField(blank=True, max_length=100, null=True)),
                ("ghl_calendar_id", models.CharField(max_length=100)),
                ("start_time", models.DateTimeField(db_index=True)),
                ("end_time", models.DateTimeField()),
                ("notes", models.TextField(blank=True, null=True)),
                ("assigned_user_id", models.CharField(blank=True, max_length=100, null=True)),
                ("status", models.CharField(choices=[(s, s) for s in ("scheduled", "confirmed", "cancelled", "showed", "noshow", "invalid")], default="scheduled", max_length=20)),
                ("ghl_appointment_id", models.CharField(blank=True, max_length=100, null=True, unique=True)),
                ("sync_status", models.CharField(default="pending", max_length=20)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={"ordering": ["start_time", "id"]},
        ),
        migrations.AddIndex(
            model_name="cita",
            index=models.Index(fields=["ghl_calendar_id", "start_time"], name="citas_cita_ghl_cal_start_idx"),
        ),
    ]
