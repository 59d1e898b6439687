"""Django admin: users, and a read-only live picture of sessions.

What happens in a session (chat, feedback, state) is shown but never edited here:
every change must go through the services, which give it a `seq` and broadcast it.
The one action, ending sessions, does exactly that.

The event log and a card's metrics are rendered as tables (metric labels, units and
ranges from coaching.metrics), long values wrapped or shortened, times in TIME_ZONE,
so no page grows wider than the window.
"""

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from coaching import metrics as catalog
from coaching.errors import ServiceError
from coaching.models import (
    Annotation,
    ChatMessage,
    Checkpoint,
    CoachingSession,
    Feedback,
    Status,
    Swing,
    User,
)
from coaching.selectors import event_log_page
from coaching.services.sessions import session_end

# The event log on a session's page: the newest entries (the REST events endpoint pages
# further back).
EVENT_LOG_ROWS = 200
# A value longer than this is cut, with an ellipsis: the table stays readable.
MAX_CELL_CHARS = 300


def local_time(moment: Any) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


def short_text(value: Any) -> str:
    """A scalar as it is, anything else as compact JSON; cut at MAX_CELL_CHARS."""
    if isinstance(value, str):
        text = value
    elif value is None or isinstance(value, (bool, int, float)):
        text = json.dumps(value)
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def key_value_table(data: dict[str, Any], *, nested: bool = True) -> SafeString:
    """A payload as a two-column table; one level of nested objects as inner tables."""
    rows = format_html_join(
        "",
        "<tr><th>{}</th><td>{}</td></tr>",
        (
            (
                key,
                key_value_table(value, nested=False)
                if nested and isinstance(value, dict) and value
                else short_text(value),
            )
            for key, value in data.items()
        ),
    )
    return format_html('<table class="inswing-kv">{}</table>', rows)


def shown(payload: dict[str, Any]) -> dict[str, Any]:
    """A logged payload without what its row already says (seq, the session)."""
    return {k: v for k, v in payload.items() if k not in ("seq", "session_id")}


def event_log_table(session: CoachingSession) -> SafeString:
    rows, more = event_log_page(session, limit=EVENT_LOG_ROWS)
    body = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (row.seq, local_time(row.created_at), row.event, key_value_table(shown(row.payload)))
            for row in rows
        ),
    )
    note = (
        format_html(
            "<p>{}</p>",
            _("The newest %(count)d events; the API's events endpoint has all.")
            % {"count": EVENT_LOG_ROWS},
        )
        if more
        else ""
    )
    return format_html(
        '{}<table class="inswing-log"><colgroup><col class="seq"><col class="time">'
        '<col class="event"><col></colgroup><thead><tr><th>seq</th><th>{}</th>'
        "<th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
        note,
        _("time"),
        _("event"),
        _("payload"),
        body,
    )


BETTER_WHEN = {
    "higher": gettext_lazy("higher is better"),
    "lower": gettext_lazy("lower is better"),
    "closer_to_range": gettext_lazy("best within the range"),
}


def metric_rows(key: str, value: Any, language: str, prefix: str = "") -> list[tuple[str, ...]]:
    """(label, value, typical range, better when) rows; nested values become sub-rows."""
    label = prefix + catalog.metric_label(key, language)
    if isinstance(value, dict):
        rows = [(label, "", "", "")]
        for sub_key, sub_value in value.items():
            rows += metric_rows(sub_key, sub_value, language, prefix=label + " · ")
        return rows
    metric = catalog.metric_for(key) if not prefix else None
    typical = catalog.format_range(metric) if metric else ""
    better = BETTER_WHEN[metric.better] if metric else ""
    shown = catalog.format_value(key, value) if not prefix else short_text(value)
    return [(label, short_text(shown), typical, better)]


def metrics_table(metrics: dict[str, Any]) -> SafeString:
    language = "ko" if (get_language() or "ko").startswith("ko") else "en"
    rows = [
        row for key, value in catalog.ordered(metrics) for row in metric_rows(key, value, language)
    ]
    body = format_html_join("", "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
    return format_html(
        '<table class="inswing-metrics"><thead><tr><th>{}</th><th>{}</th><th>{}</th>'
        "<th>{}</th></tr></thead><tbody>{}</tbody></table>",
        _("metric"),
        _("value"),
        _("typical range"),
        _("better when"),
        body,
    )


class AdminCss:
    class Media:
        css = {"all": ("coaching/admin.css",)}


class ReadOnlyMixin:
    """View only: no adding, changing or deleting."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "name", "role", "is_staff", "is_active", "last_login")
    list_filter = ("role", "is_staff", "is_active")
    search_fields = ("username", "name", "email")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Profile", {"fields": ("name", "role", "email")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "name", "role", "usable_password", "password1", "password2"),
            },
        ),
    )


class ChatInline(ReadOnlyMixin, admin.TabularInline):
    model = ChatMessage
    fields = ("seq", "sender", "message", "created_at")
    readonly_fields = fields
    ordering = ("seq",)
    extra = 0


class FeedbackInline(ReadOnlyMixin, admin.TabularInline):
    model = Feedback
    fields = ("seq", "swing_id", "level", "summary", "created_at")
    readonly_fields = fields
    ordering = ("seq",)
    extra = 0
    show_change_link = True


@admin.action(
    description=gettext_lazy("End selected sessions (broadcasts to everyone in them)"),
    permissions=["end"],
)
def end_sessions(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    ended, refused = 0, []
    for session in queryset.exclude(status=Status.ENDED):
        try:
            session_end(session_id=session.session_id, actor=request.user)
        except ServiceError as exc:
            refused.append(f"{session.session_id}: {exc.message}")
        else:
            ended += 1
    if ended:
        modeladmin.message_user(
            request, _("Ended %(count)d session(s).") % {"count": ended}, messages.SUCCESS
        )
    for line in refused:
        modeladmin.message_user(
            request, _("Not ended: %(reason)s") % {"reason": line}, messages.WARNING
        )


@admin.register(CoachingSession)
class CoachingSessionAdmin(AdminCss, ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "session_id",
        "status",
        "current_step",
        "student",
        "coach",
        "title",
        "last_seq",
        "created_at",
        "updated_at",
        "page",
    )
    list_filter = ("status", ("coach", admin.RelatedOnlyFieldListFilter))
    search_fields = ("session_id", "student__username", "student__name", "title")
    list_select_related = ("student", "coach")
    date_hierarchy = "created_at"
    fields = (
        "session_id",
        "status",
        "current_step",
        "step_source",
        "title",
        "student",
        "coach",
        "last_seq",
        "created_at",
        "updated_at",
        "started_at",
        "ended_at",
        "page",
        "event_log",
    )
    readonly_fields = fields
    inlines = (ChatInline, FeedbackInline)
    actions = (end_sessions,)

    @admin.display(description=gettext_lazy("live page"))
    def page(self, session: CoachingSession) -> str:
        url = reverse("session_page", args=[session.session_id])
        return format_html('<a href="{}">watch</a>', url)

    @admin.display(description=gettext_lazy("event log"))
    def event_log(self, session: CoachingSession) -> str:
        return event_log_table(session)

    def has_end_permission(self, request: HttpRequest) -> bool:
        """Staff who see sessions may end them (the policy lets staff end any session)."""
        return request.user.is_staff and self.has_view_permission(request)


@admin.register(Feedback)
class FeedbackAdmin(AdminCss, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("session", "seq", "swing_id", "level", "summary", "created_at")
    list_filter = ("level",)
    search_fields = ("swing_id", "session__session_id", "session__student__username")
    list_select_related = ("session",)
    fields = (
        "session",
        "seq",
        "swing_id",
        "summary",
        "metrics_table",
        "level_explained",
        "recommendation_list",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description=gettext_lazy("metrics"))
    def metrics_table(self, feedback: Feedback) -> str:
        return metrics_table(feedback.metrics if isinstance(feedback.metrics, dict) else {})

    @admin.display(description=gettext_lazy("level"))
    def level_explained(self, feedback: Feedback) -> str:
        level = catalog.level_for(feedback.level)
        if level is None:
            return feedback.level or "—"
        return format_html("{} ({}): {}", level.label_ko, level.label_en, level.about_ko)

    @admin.display(description=gettext_lazy("recommendations"))
    def recommendation_list(self, feedback: Feedback) -> str:
        items = [r for r in feedback.recommendations or [] if isinstance(r, str)]
        if not items:
            return "—"
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((r,) for r in items))
        )


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("session", "seq", "feedback", "coach", "note", "created_at")
    list_filter = (("coach", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("session__session_id", "feedback__swing_id", "note")
    list_select_related = ("session", "feedback", "coach")
    fields = ("session", "seq", "feedback", "coach", "note", "created_at")
    readonly_fields = fields


@admin.register(Swing)
class SwingAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("session", "seq", "swing_id", "label", "club", "camera_angle", "created_at")
    list_filter = ("camera_angle",)
    search_fields = ("swing_id", "session__session_id", "label")
    list_select_related = ("session",)
    fields = (
        "session",
        "seq",
        "swing_id",
        "video_url",
        "poster_url",
        "fps",
        "duration_ms",
        "club",
        "camera_angle",
        "label",
        "recorded_at",
        "key_frames",
        "created_at",
    )
    readonly_fields = fields


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("session", "seq", "swing", "time_ms", "coach", "note", "created_at")
    search_fields = ("session__session_id", "swing__swing_id", "note")
    list_select_related = ("session", "swing", "coach")
    fields = ("session", "seq", "swing", "time_ms", "shapes", "note", "coach", "created_at")
    readonly_fields = fields
