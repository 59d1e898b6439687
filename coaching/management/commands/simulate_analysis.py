"""Play the Node API's part for a session: progress ticks, then a feedback card."""

import secrets
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from coaching.errors import ServiceError
from coaching.models import Feedback, Role, User
from coaching.services.analysis import feedback_record, progress_post

SIMULATOR_USERNAME = "simulator"

# (percent, step) ticks of one analysis, as the Node API reports them.
TICKS = [
    (0, "upload"),
    (15, "pose_detection"),
    (40, "club_tracking"),
    (65, "impact_analysis"),
    (85, "scoring"),
    (100, "done"),
]

# A driver card as a Korean lesson reads it: the summary and practice items in Korean,
# a full set of launch and body metrics (keys and units as the Node API sends them).
FEEDBACK = {
    "summary": "임팩트 때 페이스가 열려 공이 오른쪽으로 출발합니다.",
    "metrics": {
        "face_angle": 5.2,
        "club_path": -1.8,
        "face_to_path": 7.0,
        "attack_angle": -1.2,
        "swing_speed": 92.3,
        "ball_speed": 131.0,
        "smash_factor": 1.42,
        "launch_angle": 11.5,
        "spin_rate": 3150,
        "carry_distance": 196,
        "tempo_ratio": 2.9,
        "tempo_score": 78,
    },
    "recommendations": [
        "어드레스에서 그립을 조금 더 스트롱하게 잡으세요.",
        "백스윙 톱에서 왼손목이 덜 꺾이도록 하세요.",
    ],
    "level": "intermediate",
}


def service_account() -> User:
    """The first active service account, or a new `simulator` one."""
    users = get_user_model().objects
    user = users.filter(role=Role.SERVICE, is_active=True).order_by("pk").first()
    if user is not None:
        return user
    if users.filter(username=SIMULATOR_USERNAME).exists():
        raise CommandError(f"User {SIMULATOR_USERNAME!r} exists but is not an active service.")
    user = users.model(username=SIMULATOR_USERNAME, role=Role.SERVICE, name="Analysis simulator")
    user.set_unusable_password()
    user.save()
    return user


class Command(BaseCommand):
    help = (
        "Play the Node API for a session: analysis progress 0→100, then a feedback card, "
        "through the same services as the REST hooks. A running server sees the broadcasts "
        "only through a shared channel layer (REDIS_URL); the feedback is stored either way."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("session_id")
        parser.add_argument("--swing-id", default="", help="Default: a new random id.")
        parser.add_argument(
            "--delay", type=float, default=0.7, help="Seconds between progress ticks."
        )

    def handle(self, *args, session_id: str, swing_id: str, delay: float, **options) -> None:
        if delay < 0:
            raise CommandError("--delay cannot be negative.")
        max_swing_id = Feedback._meta.get_field("swing_id").max_length
        if len(swing_id) > max_swing_id:
            raise CommandError(f"--swing-id is longer than {max_swing_id} characters.")
        if not settings.REDIS_URL:
            self.stderr.write(
                "REDIS_URL is not set: broadcasts stay in this process, so open pages will "
                "show the feedback only when they rejoin."
            )
        swing_id = swing_id or "sw_sim_" + secrets.token_hex(4)
        actor = service_account()
        try:
            for index, (percent, step) in enumerate(TICKS):
                if index:
                    time.sleep(delay)
                progress_post(
                    session_id=session_id,
                    actor=actor,
                    swing_id=swing_id,
                    percent=percent,
                    step=step,
                )
                self.stdout.write(f"swing:progress {percent:3d}% {step}")
            payload, created = feedback_record(
                session_id=session_id, actor=actor, swing_id=swing_id, **FEEDBACK
            )
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        verb = "Sent" if created else "Already stored, not sent again:"
        self.stdout.write(
            self.style.SUCCESS(f"{verb} ai:feedback for {swing_id} (seq {payload['seq']}).")
        )
