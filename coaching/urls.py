from django.contrib.auth import views as auth_views
from django.urls import path, re_path

from coaching import media_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("coach/", views.coach_dashboard, name="coach_dashboard"),
    path("student/", views.student_home, name="student_home"),
    path("sessions/<str:session_id>/", views.session_page, name="session_page"),
    path("sessions/<str:session_id>/replay/", views.replay_page, name="replay_page"),
    path("lessons/", views.lessons_page, name="lessons"),
    re_path(
        r"^media/(?P<name>(?:swings/[A-Za-z0-9_-]{1,64}/[A-Za-z0-9_-]{1,64}\.(?:mp4|mov|webm|jpg|png)"
        r"|recordings/[A-Za-z0-9_-]{1,64}/[A-Za-z0-9_-]{1,64}\.webm))$",
        media_views.media_file,
        name="media_file",
    ),
    re_path(
        r"^shared/(?P<share_id>[A-Za-z0-9_-]{1,40})/(?P<secret>[A-Za-z0-9_-]{1,100})/$",
        views.shared_lesson,
        name="shared_lesson",
    ),
    re_path(
        r"^shared/(?P<share_id>[A-Za-z0-9_-]{1,40})/(?P<secret>[A-Za-z0-9_-]{1,100})/socket-token/$",
        views.shared_socket_token,
        name="shared_socket_token",
    ),
    re_path(
        r"^shared/(?P<share_id>[A-Za-z0-9_-]{1,40})/(?P<secret>[A-Za-z0-9_-]{1,100})/replay/$",
        views.shared_replay,
        name="shared_replay",
    ),
]
