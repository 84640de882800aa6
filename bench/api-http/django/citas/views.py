from rest_framework import viewsets

from .models import Cita
from .serializers import CitaSerializer


class CitaViewSet(viewsets.ModelViewSet):
    serializer_class = CitaSerializer

    def get_queryset(self):
        citas = Cita.objects.all()
        params = self.request.query_params
        if params.get("status"):
            citas = citas.filter(status=params["status"])
        if params.get("desde"):
            citas = citas.filter(start_time__date__gte=params["desde"])
        if params.get("hasta"):
            citas = citas.filter(start_time__date__lte=params["hasta"])
        return citas
