from django.urls import path
from rest_framework.routers import SimpleRouter
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from coaching.api import views

router = SimpleRouter()
router.register("sessions", views.SessionViewSet, basename="session")

urlpatterns = [
    path("auth/token/", TokenObtainPairView.as_view(), name="token_obtain_pair"),
    path("auth/token/refresh/", TokenRefreshView.as_view(), name="token_refresh"),
    path("auth/socket-token/", views.socket_token, name="socket_token"),
    *router.urls,
]
