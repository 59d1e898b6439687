from django.db import migrations, models
from django.utils import timezone


def end_extra_waiting_sessions(apps, schema_editor) -> None:
    """Before the one-waiting-session rule: keep each student's oldest waiting session
    (it has waited longest) and end the others, which nobody has claimed."""
    CoachingSession = apps.get_model("coaching", "CoachingSession")
    kept: set[int] = set()
    extra: list[int] = []
    waiting = CoachingSession.objects.filter(status="waiting").order_by("created_at", "pk")
    for pk, student_id in waiting.values_list("pk", "student_id"):
        if student_id in kept:
            extra.append(pk)
        else:
            kept.add(student_id)
    if extra:
        CoachingSession.objects.filter(pk__in=extra).update(status="ended", ended_at=timezone.now())


class Migration(migrations.Migration):
    dependencies = [("coaching", "0002_user_token_generation")]

    operations = [
        migrations.AddField(
            model_name="coachingsession",
            name="started_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="coachingsession",
            name="step_source",
            field=models.CharField(
                choices=[("auto", "Analysis events"), ("coach", "Coach")],
                default="auto",
                max_length=8,
            ),
        ),
        migrations.RunPython(end_extra_waiting_sessions, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="coachingsession",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "waiting")),
                fields=("student",),
                name="one_waiting_session_per_student",
            ),
        ),
    ]
