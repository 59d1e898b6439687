"""Django admin: users, and a read-only live picture of sessions.

What happens in a session (chat, feedback, state) is shown but never edited here:
every change must go through the services, which give it a `seq` and broadcast it.
The one action, ending sessions, does exactly that.

Two operator tools act through the same paths as the rest of the app: on a user's
page, *Close this user's sockets* ends their access (coaching.services.access, as a
deactivation does: every process closes their sockets, their tokens stop working); on
a session's page, *End lesson* ends it through the session service (everyone connected
gets the same events as when the coach ends it), beside who is connected now, read from
the sockets' own presence store.

The event log and a card's metrics are rendered as tables (metric labels, units and
ranges from coaching.metrics), long values wrapped or shortened, times in TIME_ZONE,
so no page grows wider than the window. A session's page reads top down: the session
in a few lines, its chat and feedback, then its event log (folded, a page at a time,
the payloads' epoch-millisecond times shown in TIME_ZONE).
"""

import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from redis.exceptions import RedisError

from coaching import metrics as catalog
from coaching.errors import ServiceError
from coaching.models import (
    AnalysisRequest,
    Annotation,
    CallRecording,
    ChatMessage,
    Checkpoint,
    CoachingSession,
    Feedback,
    LessonShare,
    RecordingConsent,
    Status,
    Swing,
    SwingUpload,
    User,
)
from coaching.realtime.presence import State, get_presence
from coaching.selectors import event_log_page
from coaching.services import analysis_webhook, recordings, shares
from coaching.services.access import user_access_end
from coaching.services.sessions import session_end

logger = logging.getLogger(__name__)

# The event log on a session's page: this many entries a page, newest first.
EVENT_LOG_ROWS = 50
# The page's query parameter: the entries before this seq (none: the newest).
EVENT_LOG_BEFORE = "log_before"
# A value longer than this is cut, with an ellipsis: the table stays readable.
MAX_CELL_CHARS = 300
# A name in a narrow column is cut at this many characters (the whole of it on hover).
MAX_NAME_CHARS = 40
# Payload times are epoch milliseconds (`created_at`, `meta.ts`, …): between these
# (1973 and 5138) an integer under such a key is shown as a time.
EPOCH_MS_RANGE = (10**11, 10**14)


def local_time(moment: Any) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


def is_epoch_ms(key: str, value: Any) -> bool:
    """A payload's time: an integer of epoch milliseconds under a `*_at` or `ts` key."""
    return (
        (key.endswith("_at") or key == "ts")
        and isinstance(value, int)
        and not isinstance(value, bool)
        and EPOCH_MS_RANGE[0] <= value < EPOCH_MS_RANGE[1]
    )


def epoch_ms_time(value: int) -> str:
    """Epoch milliseconds as a local time (TIME_ZONE), to the millisecond."""
    moment = timezone.localtime(datetime.fromtimestamp(value / 1000, tz=UTC))
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{value % 1000:03d}"


def narrow(text: str) -> SafeString:
    """A short value that keeps to one line; a long one cut, whole in its tooltip."""
    if len(text) <= MAX_NAME_CHARS:
        return format_html('<span class="inswing-nowrap">{}</span>', text)
    return format_html(
        '<span class="inswing-nowrap" title="{}">{}…</span>', text, text[: MAX_NAME_CHARS - 1]
    )


def short_text(value: Any) -> str:
    """A scalar as it is, anything else as compact JSON; cut at MAX_CELL_CHARS."""
    if isinstance(value, str):
        text = value
    elif value is None or isinstance(value, (bool, int, float)):
        text = json.dumps(value)
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def payload_value(key: str, value: Any) -> Any:
    """A payload's value: an epoch-millisecond time as a local time, else `short_text`."""
    if is_epoch_ms(key, value):
        return format_html('<time data-epoch-ms="{}">{}</time>', value, epoch_ms_time(value))
    return short_text(value)


def key_value_table(data: dict[str, Any]) -> SafeString:
    """A payload as a two-column table, one row a key; a nested object (a sender, `meta`)
    in one line of `key value` pairs; epoch-millisecond times as local times."""

    def cell(key: str, value: Any) -> Any:
        if isinstance(value, dict) and value:
            return format_html_join(
                " · ",
                "<b>{}</b> {}",
                ((k, payload_value(k, v)) for k, v in value.items()),
            )
        return payload_value(key, value)

    rows = format_html_join(
        "",
        "<tr><th>{}</th><td>{}</td></tr>",
        ((key, cell(key, value)) for key, value in data.items()),
    )
    return format_html('<table class="inswing-kv">{}</table>', rows)


def shown(payload: dict[str, Any]) -> dict[str, Any]:
    """A logged payload without what its row already says (seq, the session)."""
    return {k: v for k, v in payload.items() if k not in ("seq", "session_id")}


def log_before(request: HttpRequest) -> int | None:
    """The event log page asked for: entries before this seq; None (or nonsense): the newest."""
    value = request.GET.get(EVENT_LOG_BEFORE, "")
    if not re.fullmatch(r"[0-9]{1,19}", value):
        return None
    return int(value) if 0 < int(value) < 2**63 else None


def event_log_section(session: CoachingSession, request: HttpRequest) -> SafeString:
    """The session's event log, folded: a page of EVENT_LOG_ROWS entries, newest first,
    with links to older entries and back to the newest. Open when paging through it."""
    before = log_before(request)
    rows, more = event_log_page(session, before_seq=before, limit=EVENT_LOG_ROWS)
    total = session.events.count()
    body = format_html_join(
        "",
        '<tr><td class="seq">{}</td><td class="time">{}</td><td class="event">{}</td>'
        "<td>{}</td></tr>",
        (
            (row.seq, local_time(row.created_at), row.event, key_value_table(shown(row.payload)))
            for row in rows
        ),
    )
    links = []
    if before is not None:
        links.append(format_html('<a href="?#event-log">{}</a>', _("Newest events")))
    if more:
        links.append(
            format_html(
                '<a href="?{}={}#event-log">{}</a>',
                EVENT_LOG_BEFORE,
                rows[-1].seq,
                _("Older events"),
            )
        )
    if rows:
        shown_range = _("seq %(first)d to %(last)d of %(total)d events") % {
            "first": rows[-1].seq,
            "last": rows[0].seq,
            "total": total,
        }
    else:
        shown_range = _("No events here.")
    pager = format_html(
        '<p class="inswing-pager"><span>{}</span> {}</p>',
        shown_range,
        format_html_join(" ", "{}", ((link,) for link in links)),
    )
    table = format_html(
        '<table class="inswing-log"><colgroup><col class="seq"><col class="time">'
        '<col class="event"><col></colgroup><thead><tr><th>seq</th><th>{}</th>'
        "<th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
        _("time"),
        _("event"),
        _("payload"),
        body,
    )
    return format_html(
        '<details class="module inswing-log-box" id="event-log"{}><summary><h2>{}</h2> '
        "<span>{}</span></summary>{}{}{}</details>",
        " open" if before is not None else "",
        _("Event log"),
        ngettext("%(count)d event", "%(count)d events", total) % {"count": total},
        pager,
        table,
        pager if len(rows) > 10 else "",
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


# Why the admin closes a user's sockets (the `disconnect` reason, a metrics label).
CLOSED_BY_ADMIN = "closed_by_admin"

ROLE_NAMES = {
    "student": gettext_lazy("student"),
    "coach": gettext_lazy("coach"),
    "admin": gettext_lazy("admin"),
}


@dataclass(frozen=True)
class Connected:
    """One user in a session's presence: their connections there, taken together."""

    user_id: str
    name: str
    role: str
    since: str  # the earliest of their connections, local time
    lost_since: str | None  # every connection lost: since the last went silent
    sockets: int


def presence_now(topics: list[str]) -> dict[str, State] | None:
    """These topics' presence as their sockets are told it, read from this sync code
    through the same store (on the server's event loop when there is one); None when the
    store could not be read (Redis down or out of reach)."""

    async def read() -> dict[str, State]:
        store = get_presence()
        return {topic: await store.list(topic) for topic in topics}

    try:
        return async_to_sync(read)()
    except (RedisError, OSError) as exc:
        logger.warning("admin: presence not read: %r", exc)
        return None


def connected_now(session: CoachingSession) -> list[Connected] | None:
    """Who is connected to the session now, the longest-connected first (None: unknown)."""
    states = presence_now([session.topic])
    if states is None:
        return None
    rows = []
    for key, entry in states[session.topic].items():
        metas = entry["metas"]
        lost = [m.get("lost_at") or 0 for m in metas if m.get("connection") == "lost"]
        first = min(metas, key=lambda m: m.get("online_at", 0))
        rows.append(
            Connected(
                user_id=key,
                name=first.get("name") or key,
                role=str(ROLE_NAMES.get(first.get("role"), first.get("role") or "—")),
                since=epoch_ms_time(first["online_at"])[:19] if first.get("online_at") else "—",
                lost_since=epoch_ms_time(max(lost))[:19] if len(lost) == len(metas) else None,
                sockets=len(metas),
            )
        )
    return sorted(rows, key=lambda row: row.since)


def lesson_connections(user: User) -> int | None:
    """The user's connections to their lessons not ended (as student or coach), from
    presence; None when presence could not be read. Sockets open elsewhere (a dashboard,
    the lobby) are not counted."""
    lessons = CoachingSession.objects.filter(Q(student=user) | Q(coach=user)).exclude(
        status=Status.ENDED
    )
    states = presence_now([session.topic for session in lessons])
    if states is None:
        return None
    return sum(len(state.get(str(user.pk), {}).get("metas", [])) for state in states.values())


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


class ObjectTool:
    """One tool on an object's page (a ModelAdmin mixin): a link among the page's tools,
    to a page at `<id>/<tool>/` that says what it does (GET), then does it (POST, which
    the admin's view checks for CSRF); for staff `may_use_tool` allows, else 403."""

    tool: str  # the URL's last part, and the name's: admin:<app>_<model>_<tool>
    tool_title: Any  # the link's and the page's title
    tool_template: str  # the confirm page (extends admin/coaching/object_tool.html)

    def may_use_tool(self, request: HttpRequest, obj: Any) -> bool:
        raise NotImplementedError

    def tool_applies(self, obj: Any) -> bool:
        """Whether the tool does anything to `obj` now (else shown disabled)."""
        return True

    def use_tool(self, request: HttpRequest, obj: Any) -> None:
        """Do it (and tell the admin how it went)."""
        raise NotImplementedError

    def tool_context(self, request: HttpRequest, obj: Any) -> dict[str, Any]:
        """What the confirm page shows besides the title."""
        return {}

    def page_context(self, request: HttpRequest, obj: Any) -> dict[str, Any]:
        """What the object's page shows besides its fields."""
        return {}

    def _tool_name(self) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{self.tool}"

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.tool_view)
        tool = path(f"<path:object_id>/{self.tool}/", view, name=self._tool_name())
        return [tool, *super().get_urls()]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> Any:
        obj = self.get_object(request, unquote(object_id))
        if obj is not None:
            extra_context = {**(extra_context or {}), **self.page_context(request, obj)}
            if self.may_use_tool(request, obj):
                extra_context["tool"] = {
                    "url": reverse(f"admin:{self._tool_name()}", args=[obj.pk]),
                    "title": self.tool_title,
                    "applies": self.tool_applies(obj),
                }
        return super().change_view(request, object_id, form_url, extra_context)

    def tool_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not self.may_use_tool(request, obj):
            raise PermissionDenied
        change_url = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[obj.pk]
        )
        if request.method == "POST":
            self.use_tool(request, obj)
            return HttpResponseRedirect(change_url)
        if request.method != "GET":
            return HttpResponse(status=405, headers={"Allow": "GET, POST"})
        context = {
            **self.admin_site.each_context(request),
            **self.tool_context(request, obj),
            "opts": self.opts,
            "object": obj,
            "title": self.tool_title,
            "applies": self.tool_applies(obj),
            "change_url": change_url,
        }
        return TemplateResponse(request, self.tool_template, context)


@admin.register(User)
class UserAdmin(ObjectTool, DjangoUserAdmin):
    """Users, and closing a user's sockets on every process (the tool)."""

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

    tool = "close-sockets"
    tool_title = gettext_lazy("Close this user's sockets")
    tool_template = "admin/coaching/user/close_sockets.html"

    def may_use_tool(self, request: HttpRequest, obj: User) -> bool:
        """Staff who may change the user may close their sockets (it ends their access)."""
        return request.user.is_staff and self.has_change_permission(request, obj)

    def tool_context(self, request: HttpRequest, obj: User) -> dict[str, Any]:
        return {"connections": lesson_connections(obj)}

    def use_tool(self, request: HttpRequest, obj: User) -> None:
        """Close the user's sockets on every process by ending their access (their tokens
        stop working too: coaching.services.access), and log who did it."""
        connections = lesson_connections(obj)
        user_access_end(obj, CLOSED_BY_ADMIN)
        logger.info(
            "admin %s (id %s) closed the sockets of user %s",
            request.user.get_username(),
            request.user.pk,
            obj.pk,
            extra={"user_id": obj.pk},
        )
        # In the History, in the acting admin's language (like the rest of the message).
        self.log_change(request, obj, _("Closed the user's sockets on every process."))
        self.message_user(request, closed_message(obj, connections), messages.SUCCESS)


def closed_message(user: User, connections: int | None) -> str:
    """What the admin is told once a user's sockets are being closed."""
    if connections is None:
        return _(
            "Closing every socket of %(user)s on every process; the tokens issued to them "
            "no longer work."
        ) % {"user": user.get_username()}
    return _(
        "Closing every socket of %(user)s on every process (%(count)d connection(s) to "
        "their lessons were open); the tokens issued to them no longer work."
    ) % {"user": user.get_username(), "count": connections}


class ChatInline(ReadOnlyMixin, admin.TabularInline):
    """Columns sized to their content (admin.css): seq, sender and time on one line each,
    the message taking the rest."""

    model = ChatMessage
    fields = ("seq", "sender_name", "message", "sent_at")
    readonly_fields = fields
    ordering = ("seq",)
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("sender")

    @admin.display(description=gettext_lazy("sender"))
    def sender_name(self, message: ChatMessage) -> str:
        return narrow(message.sender.display_name)

    @admin.display(description=gettext_lazy("sent at"))
    def sent_at(self, message: ChatMessage) -> str:
        return narrow(local_time(message.created_at))


class FeedbackInline(ReadOnlyMixin, admin.TabularInline):
    model = Feedback
    fields = ("seq", "swing", "level", "summary", "analysed_at")
    readonly_fields = fields
    ordering = ("seq",)
    extra = 0
    show_change_link = True

    @admin.display(description=gettext_lazy("swing"))
    def swing(self, feedback: Feedback) -> str:
        return narrow(feedback.swing_id)

    @admin.display(description=gettext_lazy("analysed at"))
    def analysed_at(self, feedback: Feedback) -> str:
        return narrow(local_time(feedback.created_at))


def end_lesson(
    modeladmin: admin.ModelAdmin, request: HttpRequest, session: CoachingSession
) -> bool:
    """End a session through the service, as its coach would (everyone in it gets the
    change); says why not when the service refuses."""
    try:
        session_end(session_id=session.session_id, actor=request.user)
    except ServiceError as exc:
        reason = f"{session.session_id}: {exc.message}"
        modeladmin.message_user(
            request, _("Not ended: %(reason)s") % {"reason": reason}, messages.WARNING
        )
        return False
    return True


@admin.action(
    description=gettext_lazy("End selected sessions (broadcasts to everyone in them)"),
    permissions=["end"],
)
def end_sessions(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    ended = sum(end_lesson(modeladmin, request, s) for s in queryset.exclude(status=Status.ENDED))
    if ended:
        modeladmin.message_user(
            request, _("Ended %(count)d session(s).") % {"count": ended}, messages.SUCCESS
        )


@admin.register(CoachingSession)
class CoachingSessionAdmin(ObjectTool, AdminCss, ReadOnlyMixin, admin.ModelAdmin):
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
    # The session in a few lines; then the chat and feedback inlines, then the event log
    # (templates/admin/coaching/coachingsession/change_form.html).
    fields = (
        ("session_id", "page"),
        ("status", "current_step", "step_source"),
        "title",
        ("student", "coach"),
        ("created_at", "started_at", "ended_at"),
        ("updated_at", "last_seq", "review_rows"),
    )
    readonly_fields = (
        "session_id",
        "page",
        "status",
        "current_step",
        "step_source",
        "title",
        "student",
        "coach",
        "created_at",
        "started_at",
        "ended_at",
        "updated_at",
        "last_seq",
        "review_rows",
    )
    inlines = (ChatInline, FeedbackInline)
    actions = (end_sessions,)

    @admin.display(description=gettext_lazy("live page"))
    def page(self, session: CoachingSession) -> str:
        url = reverse("session_page", args=[session.session_id])
        return format_html('<a href="{}">watch</a>', url)

    @admin.display(description=gettext_lazy("recorded review"))
    def review_rows(self, session: CoachingSession) -> int:
        """How many rows of the review were kept for the replay (docs/protocol.md)."""
        return session.review_records.count()

    tool = "end"
    tool_title = gettext_lazy("End lesson")
    tool_template = "admin/coaching/coachingsession/end_lesson.html"

    def page_context(self, request: HttpRequest, obj: CoachingSession) -> dict[str, Any]:
        return {"event_log": event_log_section(obj, request), "connected": connected_now(obj)}

    def has_end_permission(self, request: HttpRequest) -> bool:
        """Staff who see sessions may end them (the policy lets staff end any session)."""
        return request.user.is_staff and self.has_view_permission(request)

    def may_use_tool(self, request: HttpRequest, obj: CoachingSession) -> bool:
        return self.has_end_permission(request)

    def tool_applies(self, obj: CoachingSession) -> bool:
        return obj.status != Status.ENDED

    def tool_context(self, request: HttpRequest, obj: CoachingSession) -> dict[str, Any]:
        return {"connected": connected_now(obj)}

    def use_tool(self, request: HttpRequest, obj: CoachingSession) -> None:
        """End the lesson through the session service, as the bulk action does."""
        if obj.status == Status.ENDED:
            self.message_user(request, _("This lesson has already ended."), messages.INFO)
        elif end_lesson(self, request, obj):
            self.log_change(request, obj, _("Ended the lesson."))
            self.message_user(
                request,
                _("Ended the lesson: everyone connected to it got the change."),
                messages.SUCCESS,
            )


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


@admin.action(description=gettext_lazy("Revoke selected share links"), permissions=["revoke"])
def revoke_shares(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    revoked = 0
    for share in queryset.filter(revoked_at__isnull=True):
        shares.revoke(share)
        revoked += 1
    modeladmin.message_user(
        request, _("Revoked %(count)d link(s).") % {"count": revoked}, messages.SUCCESS
    )


@admin.register(LessonShare)
class LessonShareAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Links to lessons' recaps: who made them, until when, and whether they still answer.
    Never the link itself (only a digest of its secret is stored, and not shown)."""

    fields = (
        "share_id",
        "session",
        "label",
        "created_by",
        "created_at",
        "expires_at",
        "revoked_at",
        "state",
    )
    list_display = tuple(f for f in fields if f != "revoked_at")
    list_filter = (("created_by", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("share_id", "session__session_id", "label")
    list_select_related = ("session", "created_by")
    readonly_fields = fields
    actions = (revoke_shares,)

    @admin.display(description=gettext_lazy("state"))
    def state(self, share: LessonShare) -> str:
        return {
            shares.ACTIVE: _("active"),
            shares.EXPIRED: _("expired"),
            shares.REVOKED: _("revoked"),
        }[shares.share_state(share)]

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.is_staff and self.has_view_permission(request)


@admin.register(SwingUpload)
class SwingUploadAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Swing videos uploaded from lesson rooms: how far each got, and its swing."""

    fields = (
        "upload_id",
        "session",
        "uploader",
        "filename",
        "content_type",
        "size",
        "offset",
        "status",
        "duration_ms",
        "video_name",
        "poster_name",
        "swing",
        "created_at",
        "updated_at",
    )
    list_display = ("upload_id", "session", "uploader", "size", "offset", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("upload_id", "session__session_id", "filename")
    list_select_related = ("session", "uploader")
    readonly_fields = fields


@admin.action(description=gettext_lazy("Send again now"), permissions=["resend"])
def resend_analysis(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    count = analysis_webhook.resend(queryset)
    modeladmin.message_user(
        request, _("%(count)d request(s) will be sent again.") % {"count": count}, messages.SUCCESS
    )


@admin.register(AnalysisRequest)
class AnalysisRequestAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The analysis webhook's outbox: one request per uploaded swing, its attempts and the
    last error; *Send again now* retries failed or waiting ones at once."""

    fields = (
        "delivery_id",
        "swing",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
        "delivered_at",
    )
    list_display = (
        "delivery_id",
        "swing",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "delivered_at",
    )
    list_filter = ("status",)
    search_fields = ("delivery_id", "swing__swing_id", "swing__session__session_id")
    list_select_related = ("swing",)
    readonly_fields = fields
    actions = (resend_analysis,)

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return request.user.is_staff and self.has_view_permission(request)


@admin.register(RecordingConsent)
class RecordingConsentAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Each participant's answer to recording the lesson's call (issue 18, item 4)."""

    fields = ("session", "user", "consented", "updated_at")
    list_display = fields
    list_filter = ("consented",)
    search_fields = ("session__session_id", "user__username")
    list_select_related = ("session", "user")
    readonly_fields = fields


@admin.action(
    description=gettext_lazy(
        "Delete these lessons' call recordings (each lesson's every one, and the files)"
    ),
    permissions=["erase"],
)
def delete_lesson_recordings(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> None:
    """Per lesson, as its student or coach deletes it: every recording of each lesson."""
    lessons = CoachingSession.objects.filter(call_recordings__in=queryset).distinct()
    deleted = sum(recordings.delete_recordings(session) for session in lessons)
    modeladmin.message_user(
        request,
        _("Deleted %(count)d recording(s) and their files.") % {"count": deleted},
        messages.SUCCESS,
    )


@admin.register(CallRecording)
class CallRecordingAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Lessons' recorded calls: who started each, when, how long, its file. Deleting
    removes every recording of the lesson and its files, as the lesson's student or coach
    does (coaching/services/recordings.py), never one row alone."""

    fields = (
        "recording_id",
        "session",
        "started_by",
        "started_ms",
        "duration_ms",
        "finished",
        "audio_name",
        "created_at",
        "updated_at",
    )
    list_display = (
        "recording_id",
        "session",
        "started_by",
        "duration_ms",
        "finished",
        "created_at",
    )
    list_filter = ("finished",)
    search_fields = ("recording_id", "session__session_id")
    list_select_related = ("session", "started_by")
    readonly_fields = fields
    actions = (delete_lesson_recordings,)

    def has_erase_permission(self, request: HttpRequest) -> bool:
        """Staff granted deleting recordings (superusers are)."""
        return request.user.is_staff and request.user.has_perm("coaching.delete_callrecording")
