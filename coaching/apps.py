from django.apps import AppConfig


class CoachingConfig(AppConfig):
    name = "coaching"
    verbose_name = "Coaching"

    def ready(self) -> None:
        from coaching import broadcasts
        from coaching.realtime import publish
        from coaching.services import access  # noqa: F401  (connects its signal receivers)

        broadcasts.plug(publish.broadcast_soon, publish.broadcast)
