from django.conf import settings
from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action, api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.tokens import AccessToken

from coaching import events
from coaching.api.serializers import SessionCreateSerializer, SessionSerializer
from coaching.errors import ServiceError
from coaching.services.sessions import session_claim, session_create


@extend_schema(
    request=None,
    responses=inline_serializer(
        "SocketToken", {"token": serializers.CharField(), "expires_in": serializers.IntegerField()}
    ),
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def socket_token(request: Request) -> Response:
    """A short-lived access token for the socket, for pages logged in with a session."""
    token = AccessToken.for_user(request.user)
    token.set_exp(lifetime=settings.SOCKET_TOKEN_LIFETIME)
    return Response(
        {"token": str(token), "expires_in": int(settings.SOCKET_TOKEN_LIFETIME.total_seconds())}
    )


class SessionViewSet(viewsets.GenericViewSet):
    lookup_field = "session_id"
    lookup_value_regex = r"[A-Za-z0-9_\-]+"
    serializer_class = SessionSerializer

    @extend_schema(request=SessionCreateSerializer, responses={201: SessionSerializer})
    def create(self, request: Request) -> Response:
        """Open a waiting session: a student for themselves, the service for `student_id`."""
        data = SessionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        student = None
        if "student_id" in data.validated_data:
            student = get_user_model().objects.filter(pk=data.validated_data["student_id"]).first()
            if student is None:
                raise ServiceError("invalid_input", "No such student.", field="student_id")
        session = session_create(
            creator=request.user, student=student, title=data.validated_data["title"]
        )
        return Response(events.lobby_entry(session), status=201)

    @extend_schema(request=None, responses={200: SessionSerializer})
    @action(detail=True, methods=["post"])
    def claim(self, request: Request, session_id: str) -> Response:
        """A coach takes the session: waiting → active. 409 if another coach has it."""
        session = session_claim(session_id=session_id, coach=request.user)
        return Response(events.lobby_entry(session))
