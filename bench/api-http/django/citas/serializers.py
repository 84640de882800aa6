"""The Django service's serializer: the overlap, working-hours and duration checks
in validate(), in Python, before the row is saved (check, then write)."""
from datetime import timedelta

from django.utils import timezone
from rest_framework import serializers

from .models import Cita


class CitaSerializer(serializers.ModelSerializer):
    class Meta:
        model = Cita
        fields = ["id", "title", "contact_id", "ghl_calendar_id", "start_time", "end_time", "notes",
                  "assigned_user_id", "status", "ghl_appointment_id", "sync_status", "created_at", "updated_at"]
        read_only_fields = ["ghl_appointment_id", "sync_status", "created_at", "updated_at"]

    def validate(self, data):
        start = data.get("start_time", getattr(self.instance, "start_time", None))
        end = data.get("end_time", getattr(self.instance, "end_time", None))
        calendar = data.get("ghl_calendar_id", getattr(self.instance, "ghl_calendar_id", None))
        if end - start < timedelta(minutes=15):
            raise serializers.ValidationError("La duración mínima es 15 minutos")
        local = timezone.localtime(start)
        if local.hour < 8 or timezone.localtime(end).hour > 20:
            raise serializers.ValidationError("Horario fuera del horario de trabajo (8:00 - 20:00)")
        clash = (Cita.objects.filter(ghl_calendar_id=calendar, start_time__lt=end, end_time__gt=start)
                 .exclude(status__in=["cancelled", "invalid"]))
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        other = clash.first()
        if other is not None:
            raise serializers.ValidationError(
                "Conflicto de horario con: %s (%s - %s)" % (other.title, timezone.localtime(other.start_time).strftime("%H:%M"),
                                                           timezone.localtime(other.end_time).strftime("%H:%M")))
        return data
