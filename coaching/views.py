"""Rendered pages. They log in with Django sessions and talk to the socket and REST API.

Pages ensure the CSRF cookie, which their scripts send back as `X-CSRFToken` when
they POST to the API (session auth) and fetch a socket token.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, ensure_csrf_cookie
from django.views.decorators.http import require_POST, require_safe

from coaching import metrics, policy
from coaching.errors import ServiceError
from coaching.events import epoch_ms, person, sender
from coaching.models import CoachingSession, LessonShare, Role, Status, session_topic
from coaching.replay import replay_document
from coaching.services.lookup import get_session
from coaching.services.shares import (
    share_open,
    share_path,
    shared_recap,
    shared_replay_document,
    socket_token,
)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.role == Role.COACH:
        return redirect("coach_dashboard")
    if user.is_staff:
        return redirect("admin:index")
    return redirect("student_home")


@login_required
@ensure_csrf_cookie
def coach_dashboard(request: HttpRequest) -> HttpResponse:
    if request.user.role != Role.COACH:
        return redirect("home")
    return render(request, "coaching/coach_dashboard.html")


@login_required
@ensure_csrf_cookie
def student_home(request: HttpRequest) -> HttpResponse:
    if request.user.role == Role.COACH:
        return redirect("coach_dashboard")
    return render(request, "coaching/student_home.html")


@login_required
@ensure_csrf_cookie
def session_page(request: HttpRequest, session_id: str) -> HttpResponse:
    """The lesson room; also a coach's read-only preview of a waiting session (the
    join reply's `you.session_role` says which)."""
    try:
        session = get_session(session_id)
        policy.check_view(request.user, session)
    except ServiceError:
        return render(request, "coaching/not_found.html", status=404)
    role = policy.session_role(request.user, session)
    you = {**sender(request.user), "session_role": role}
    return render(request, "coaching/session.html", _room_context(session, role, you))


def _room_context(session: CoachingSession, role: str | None, you: dict) -> dict:
    """What the lesson room's template needs; `you`: who the page's user is in this
    lesson, known before the socket joins."""
    return {
        "session": session,
        "session_role": role,
        "preview": role == policy.PREVIEW,
        "share": role == policy.SHARE,
        "created_at_ms": epoch_ms(session.created_at),
        "metric_catalog": metrics.catalog(),
        "metric_levels": metrics.level_catalog(),
        "you": you,
    }


@login_required
@ensure_csrf_cookie
def lessons_page(request: HttpRequest) -> HttpResponse:
    """The library: past lessons with filters, and a student's progress across them (a
    student's own; a coach's or an admin's once they pick a student)."""
    user = request.user
    role = user.public_role
    context = {
        "metric_catalog": metrics.catalog(),
        "library": {
            "role": role,
            "you": person(user),
            # Whose progress shows at first: a student's own.
            "student": person(user) if role == Role.STUDENT else None,
        },
    }
    return render(request, "coaching/library.html", context)


@require_safe
@never_cache
def shared_lesson(request: HttpRequest, share_id: str, secret: str) -> HttpResponse:
    """A share link: the lesson's recap, read-only, without an account; 410 once the link
    has expired or was revoked, 404 for a link that never was. Display names only."""
    try:
        share = share_open(share_id, secret)
    except ServiceError as exc:
        response = _share_gone(request, exc)
    else:
        response = _shared_page(request, share)
    # The link is the key: not sent on to other sites, not indexed.
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _shared_page(request: HttpRequest, share: LessonShare) -> HttpResponse:
    """A running lesson is the room, read-only, following it live on the socket (as the
    `share` role, no account: coaching/services/shares.py); an ended one, its recap."""
    session = share.session
    if session.status != Status.ENDED:
        you = {"id": None, "name": "", "role": policy.SHARE, "session_role": policy.SHARE}
        context = _room_context(session, policy.SHARE, you)
        return render(request, "coaching/session.html", context)
    context = {"shared": shared_recap(share), "metric_catalog": metrics.catalog()}
    return render(request, "coaching/shared_lesson.html", context)


# No cookie or account is involved (the link is the key): nothing for a forged request to use.
@csrf_exempt
@require_POST
@never_cache
def shared_socket_token(request: HttpRequest, share_id: str, secret: str) -> JsonResponse:
    """A share link's socket token, for its page to watch the lesson live: `{token,
    expires_in, topic}` (seconds; the lesson's topic), or the API's error shape with 410
    once the link has expired or was revoked, 404 for a link that never was."""
    try:
        share = share_open(share_id, secret)
    except ServiceError as exc:
        gone = exc.code in ("share_expired", "share_revoked")
        error = {"error": {"code": exc.code, "message": exc.message}}
        response = JsonResponse(error, status=410 if gone else 404)
    else:
        token, expires_in = socket_token(share)
        topic = session_topic(share.session.session_id)
        response = JsonResponse({"token": token, "expires_in": expires_in, "topic": topic})
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@login_required
def replay_page(request: HttpRequest, session_id: str) -> HttpResponse:
    """The lesson played back as it happened (the replay document, embedded): its
    student, its coach and admins; anyone else finds no such lesson, as in the room."""
    try:
        session = get_session(session_id)
        policy.check_replay(request.user, session)
    except ServiceError:
        return render(request, "coaching/not_found.html", status=404)
    context = {
        "replay": replay_document(session),
        "title": session.title,
        "started_at": session.started_at,
        "back_url": reverse("session_page", args=[session.session_id]),
        "metric_catalog": metrics.catalog(),
        "you": sender(request.user),
    }
    return render(request, "coaching/replay.html", context)


@require_safe
@never_cache
def shared_replay(request: HttpRequest, share_id: str, secret: str) -> HttpResponse:
    """A share link's replay, read-only, without an account (display names only); gone
    (410) with the link, as its recap."""
    try:
        share = share_open(share_id, secret)
    except ServiceError as exc:
        response = _share_gone(request, exc)
    else:
        context = {
            "replay": shared_replay_document(share),
            "shared": True,
            "title": share.session.title,
            "started_at": share.session.started_at,
            "back_url": share_path(share_id, secret),
            "metric_catalog": metrics.catalog(),
            "you": None,
        }
        response = render(request, "coaching/replay.html", context)
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _share_gone(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    """A link's page once it no longer answers: 410 when it has expired or was revoked,
    404 for a link that never was."""
    gone = exc.code in ("share_expired", "share_revoked")
    return render(
        request, "coaching/shared_gone.html", {"reason": exc.code}, status=410 if gone else 404
    )
