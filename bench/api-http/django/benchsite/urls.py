from django.urls import include, path
from rest_framework.routers import DefaultRouter
from rest_framework_simplejwt.views import TokenObtainPairView

from citas.views import CitaViewSet

router = DefaultRouter()
router.register("citas", CitaViewSet, basename="cita")

urlpatterns = [
    path("api/architect/login/", TokenObtainPairView.as_view()),
    path("api/ghl/", include(router.urls)),
]
