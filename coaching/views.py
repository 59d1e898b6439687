"""Rendered pages. They log in with Django sessions and talk to the socket and REST API.

Pages ensure the CSRF cookie, which their scripts send back as `X-CSRFToken` when
they POST to the API (session auth) and fetch a socket token.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie

from coaching import metrics, policy
from coaching.errors import ServiceError
from coaching.events import epoch_ms, sender
from coaching.models import Role
from coaching.services.lookup import get_session


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
    context = {
        "session": session,
        "session_role": role,
        "preview": role == policy.PREVIEW,
        "created_at_ms": epoch_ms(session.created_at),
        "metric_catalog": metrics.catalog(),
        "metric_levels": metrics.level_catalog(),
        # Who the page's user is in this lesson, known before the socket joins.
        "you": {**sender(request.user), "session_role": role},
    }
    return render(request, "coaching/session.html", context)
