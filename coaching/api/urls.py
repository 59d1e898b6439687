from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from coaching.api import recordings, uploads, views

router = SimpleRouter()
router.register("sessions", views.SessionViewSet, basename="session")
router.register("lessons", views.LessonViewSet, basename="lesson")
router.register("students", views.StudentViewSet, basename="student")

urlpatterns = [
    path("auth/token/", views.TokenObtainView.as_view(), name="token_obtain_pair"),
    path("auth/token/refresh/", views.TokenRefreshView.as_view(), name="token_refresh"),
    path("auth/socket-token/", views.socket_token, name="socket_token"),
    path("rtc/credentials/", views.rtc_credentials, name="rtc_credentials"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api_docs"),
    path("sessions/<str:session_id>/uploads/", uploads.upload_create, name="upload_create"),
    path(
        "sessions/<str:session_id>/uploads/<str:upload_id>/",
        uploads.upload_detail,
        name="upload_detail",
    ),
    path(
        "sessions/<str:session_id>/recording-consent/",
        recordings.recording_consent,
        name="recording_consent",
    ),
    path("sessions/<str:session_id>/recordings/", recordings.recordings, name="recordings"),
    path(
        "sessions/<str:session_id>/recordings/<str:recording_id>/chunks/<int:n>/",
        recordings.recording_chunk,
        name="recording_chunk",
    ),
    path(
        "sessions/<str:session_id>/recordings/<str:recording_id>/finish/",
        recordings.recording_finish_view,
        name="recording_finish",
    ),
    *router.urls,
    # Last: any other path under /api/ gets the API's JSON 404, not an HTML page.
    re_path(r"^(?P<path>[\s\S]*/)$", views.not_found),  # [\s\S]: newlines too
]
