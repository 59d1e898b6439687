from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from coaching.models import Role


class Command(BaseCommand):
    help = "Create a user: a student, coach or service account (--staff for an admin)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", choices=Role.values, required=True)
        parser.add_argument("--name", default="", help="Display name")
        parser.add_argument("--password", required=True)
        parser.add_argument("--staff", action="store_true", help="Make the user an admin")

    def handle(
        self, *args, username: str, role: str, name: str, password: str, staff: bool, **options
    ) -> None:
        users = get_user_model()
        if users.objects.filter(username=username).exists():
            raise CommandError(f"User {username!r} already exists.")
        user = users(username=username, role=role, name=name, is_staff=staff, is_superuser=staff)
        user.set_password(password)
        user.save()
        kind = "admin" if staff else role
        self.stdout.write(self.style.SUCCESS(f"Created {kind} {username!r} (id {user.pk})."))
