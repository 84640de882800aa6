from django.db import models


class Cita(models.Model):
    STATUSES = [(s, s) for s in ("scheduled", "confirmed", "cancelled", "showed", "noshow", "invalid")]

    title = models.CharField(max_length=255, blank=True, default="")
    contact_id = models.CharField(max_length=100, blank=True, null=True)
    ghl_calendar_id = models.CharField(max_length=100)
    start_time = models.DateTimeField(db_index=True)
    end_time = models.DateTimeField()
    notes = models.TextField(blank=True, null=True)
    assigned_user_id = models.CharField(max_length=100, blank=True, null=True)
    status = models.CharField(max_length=20, choices=STATUSES, default="scheduled")
    ghl_appointment_id = models.CharField(max_length=100, blank=True, null=True, unique=True)
    sync_status = models.CharField(max_length=20, default="pending")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start_time", "id"]
        indexes = [models.Index(fields=["ghl_calendar_id", "start_time"])]
