from django.core.management.base import BaseCommand

from coaching.services.uploads import uploads_expire


class Command(BaseCommand):
    help = (
        "Remove swing uploads left unfinished for SWING_UPLOAD_EXPIRE_HOURS, with their "
        "chunks and poster frame (run it hourly, e.g. from cron)."
    )

    def handle(self, *args, **options) -> None:
        removed = uploads_expire()
        self.stdout.write(f"Removed {removed} abandoned upload(s).")
