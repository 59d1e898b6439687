from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from coaching.models import Role
from coaching.services.sessions import session_create
from coaching.services.swings import swing_attach

DEMO_USERS = [
    # username, role, display name, password, staff
    ("student", Role.STUDENT, "Ian", "student-pass", False),
    ("coach", Role.COACH, "IanPro", "coach-pass", False),
    ("node-api", Role.SERVICE, "INSwing API", "service-pass", False),
    ("admin", Role.STUDENT, "Admin", "admin-pass", True),
]

# The clip shipped in static/demo/, made by scripts/make_demo_swing.py (keep in step).
DEMO_SWING = {
    "swing_id": "demo_swing",
    "video_url": "/static/demo/swing-demo.mp4",
    "poster_url": "/static/demo/swing-demo.jpg",
    "fps": 30,
    "duration_ms": 3500,
    "club": "driver",
    "camera_angle": "face_on",
    "label": "데모 스윙",
    "key_frames": {"address": 300, "top": 1500, "impact": 1800, "finish": 2500},
}


class Command(BaseCommand):
    help = (
        "Create the demo accounts and one waiting session with the demo swing (safe to run again)."
    )

    def handle(self, *args, **options) -> None:
        users = get_user_model()
        made = {}
        for username, role, name, password, staff in DEMO_USERS:
            user, created = users.objects.get_or_create(
                username=username,
                defaults={"role": role, "name": name, "is_staff": staff, "is_superuser": staff},
            )
            if created:
                user.set_password(password)
                user.save()
            made[username] = user
        student = made["student"]
        # A student has at most one waiting session: this returns it if there is one.
        # Demo data reads like a Korean lesson (the pages are Korean first).
        waiting, _ = session_create(creator=student, title="드라이버: 임팩트 때 페이스가 열려요")
        swing_attach(session_id=waiting.session_id, actor=made["node-api"], swing=DEMO_SWING)
        self.stdout.write("Demo accounts (username / password):")
        for username, role, _name, password, staff in DEMO_USERS:
            self.stdout.write(f"  {'admin' if staff else role:8} {username} / {password}")
        self.stdout.write(f"Waiting session: {waiting.session_id} (demo swing attached)")
