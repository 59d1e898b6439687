"""Rendered pages. They log in with Django sessions and talk to the socket and REST API."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from coaching import policy
from coaching.errors import ServiceError
from coaching.services.lookup import get_session


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.role == "coach":
        return redirect("coach_dashboard")
    if user.is_staff:
        return redirect("admin:index")
    return redirect("student_home")


@login_required
def coach_dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "coaching/coach_dashboard.html")


@login_required
def student_home(request: HttpRequest) -> HttpResponse:
    return render(request, "coaching/student_home.html")


@login_required
def session_page(request: HttpRequest, session_id: str) -> HttpResponse:
    try:
        session = get_session(session_id)
        policy.check_view(request.user, session)
    except ServiceError:
        return render(request, "coaching/not_found.html", status=404)
    return render(request, "coaching/session.html", {"session_id": session.session_id})
