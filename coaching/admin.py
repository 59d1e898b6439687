"""Django admin: users, and a read-only live picture of sessions.

What happens in a session (chat, feedback, state) is shown but never edited here:
every change must go through the services, which give it a `seq` and broadcast it.
The one action, ending sessions, does exactly that.
"""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from coaching.errors import ServiceError
from coaching.models import (
    Annotation,
    ChatMessage,
    Checkpoint,
    CoachingSession,
    Feedback,
    SessionEvent,
    Status,
    Swing,
    User,
)
from coaching.services.sessions import session_end


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


class EventInline(ReadOnlyMixin, admin.TabularInline):
    model = SessionEvent
    verbose_name_plural = "event log"
    fields = ("seq", "event", "payload", "created_at")
    readonly_fields = fields
    ordering = ("-seq",)
    extra = 0


@admin.action(
    description="End selected sessions (broadcasts to everyone in them)",
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
        modeladmin.message_user(request, f"Ended {ended} session(s).", messages.SUCCESS)
    for line in refused:
        modeladmin.message_user(request, f"Not ended: {line}", messages.WARNING)


@admin.register(CoachingSession)
class CoachingSessionAdmin(ReadOnlyMixin, admin.ModelAdmin):
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
        "title",
        "student",
        "coach",
        "last_seq",
        "created_at",
        "updated_at",
        "ended_at",
        "page",
    )
    readonly_fields = fields
    inlines = (ChatInline, FeedbackInline, EventInline)
    actions = (end_sessions,)

    @admin.display(description="live page")
    def page(self, session: CoachingSession) -> str:
        url = reverse("session_page", args=[session.session_id])
        return format_html('<a href="{}">watch</a>', url)

    def has_end_permission(self, request: HttpRequest) -> bool:
        """Staff who see sessions may end them (the policy lets staff end any session)."""
        return request.user.is_staff and self.has_view_permission(request)


@admin.register(Feedback)
class FeedbackAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("session", "seq", "swing_id", "level", "summary", "created_at")
    list_filter = ("level",)
    search_fields = ("swing_id", "session__session_id", "session__student__username")
    list_select_related = ("session",)
    fields = (
        "session",
        "seq",
        "swing_id",
        "level",
        "summary",
        "metrics",
        "recommendations",
        "created_at",
    )
    readonly_fields = fields


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
