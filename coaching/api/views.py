"""REST endpoints: validate input → call a service or selector → respond with event payloads.

Session-scoped endpoints answer 404 for a session the caller may not see (the
list's visibility rules), then 403 when the caller's role may not do the action,
then 400 for invalid input.
"""

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action, api_view, permission_classes, throttle_classes
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt import views as jwt_views
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.tokens import AccessToken

from coaching import events, policy, selectors
from coaching.api import serializers as s
from coaching.api.authentication import TokenObtainSerializer, TokenRefreshCurrentSerializer
from coaching.api.errors import error_body
from coaching.api.parsers import StrictJSONParser
from coaching.api.throttles import (
    ChatPostThrottle,
    PasswordLoginThrottle,
    RtcCredentialsThrottle,
    SocketTokenThrottle,
)
from coaching.errors import ServiceError
from coaching.models import CoachingSession
from coaching.replay import replay_document
from coaching.services.access import token_stamp
from coaching.services.analysis import feedback_record, progress_post
from coaching.services.annotations import annotation_save
from coaching.services.chat import chat_message_post
from coaching.services.checkpoints import checkpoint_save
from coaching.services.notices import notice_post
from coaching.services.progress import student_metrics, student_progress
from coaching.services.rtc import ice_configuration
from coaching.services.sessions import session_claim, session_create
from coaching.services.shares import (
    share_create,
    share_entry,
    share_list,
    share_path,
    share_revoke,
)
from coaching.services.swings import swing_attach, swings_attach


class Pagination(PageNumberPagination):
    """`?page=N&page_size=M`; garbage in either is a 400, not silently the default."""

    page_size_query_param = "page_size"
    max_page_size = 100

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        validated(s.PageQuerySerializer, request.query_params)
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["maximum"] = s.MAX_DB_INT
        return parameters


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """The input's validated data, or a 400 naming the fields at fault.

    Query parameters are read as plain strings: an empty `?status=` is invalid,
    not "absent" as DRF reads form-style input.
    """
    if isinstance(data, QueryDict):
        data = data.dict()
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@extend_schema(responses={200: TokenObtainPairSerializer, **s.error_responses(400, 401, 429)})
class TokenObtainView(jwt_views.TokenObtainPairView):
    """A JWT access/refresh pair for a username and password."""

    parser_classes = [StrictJSONParser]
    serializer_class = TokenObtainSerializer
    throttle_classes = [PasswordLoginThrottle]


@extend_schema(responses={200: TokenRefreshSerializer, **s.error_responses(400, 401)})
class TokenRefreshView(jwt_views.TokenRefreshView):
    """A new access token for a refresh token."""

    parser_classes = [StrictJSONParser]
    serializer_class = TokenRefreshCurrentSerializer


@extend_schema(
    request=None,
    responses={200: s.SocketTokenSerializer, **s.error_responses(401, 429)},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
@throttle_classes([SocketTokenThrottle])
def socket_token(request: Request) -> Response:
    """A short-lived access token for the socket, for pages logged in with a session."""
    token = token_stamp(AccessToken.for_user(request.user), request.user)
    token.set_exp(lifetime=settings.SOCKET_TOKEN_LIFETIME)
    return Response(
        {"token": str(token), "expires_in": int(settings.SOCKET_TOKEN_LIFETIME.total_seconds())}
    )


@extend_schema(responses={200: s.RtcCredentialsSerializer, **s.error_responses(401, 429)})
@api_view(["GET"])
@permission_classes([IsAuthenticated])
@throttle_classes([RtcCredentialsThrottle])
def rtc_credentials(request: Request) -> Response:
    """The ICE servers for a call's RTCPeerConnection, with TURN credentials minted for the
    signed-in user (time-limited, see `expires_at`), and the transport policy."""
    response = Response(ice_configuration(request.user.pk, time.time()))
    response["Cache-Control"] = "no-store"
    return response


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
@permission_classes([AllowAny])
def not_found(request: Request, path: str = "") -> Response:
    """Any other path under /api/: the JSON 404 rather than an HTML page."""
    return Response(error_body("not_found", "Not found."), status=status.HTTP_404_NOT_FOUND)


class SessionViewSet(viewsets.GenericViewSet):
    lookup_field = "session_id"
    lookup_value_regex = r"[A-Za-z0-9_\-]+"
    serializer_class = s.SessionSerializer
    pagination_class = Pagination
    parser_classes = [StrictJSONParser]
    # Actions limited beyond the defaults (none of the others).
    action_throttles = {"message_create": [ChatPostThrottle]}

    def get_throttles(self) -> list:
        return [throttle() for throttle in self.action_throttles.get(self.action, [])]

    def paginated(self, items: QuerySet, payload: Callable[[Any], dict]) -> Response:
        """One page of `items`, each as its event payload."""
        page = self.paginate_queryset(items)
        return self.get_paginated_response([payload(item) for item in page])

    def visible(self, session_id: str) -> CoachingSession:
        """The session if the caller may see it, else a 404."""
        return selectors.visible_session(self.request.user, session_id)

    @extend_schema(
        summary="List sessions",
        parameters=[s.SessionListQuerySerializer],
        responses={
            200: s.SessionSerializer(many=True),
            **s.error_responses(400, 401, 404, not_found="No such page (`not_found`)."),
        },
    )
    def list(self, request: Request) -> Response:
        """Sessions you may see, newest first, paginated.

        A coach sees the waiting sessions and their own, a student their own, an admin and
        the service account all of them. `mine=true`: only the lessons you take part in,
        as their student or their coach (a coach's own lessons, without the waiting list).
        """
        query = validated(s.SessionListQuerySerializer, request.query_params)
        sessions = selectors.sessions_visible_to(
            request.user, status=query.get("status"), mine=query.get("mine", False)
        )
        return self.paginated(sessions, events.lobby_entry)

    @extend_schema(
        summary="Create a session",
        request=s.SessionCreateSerializer,
        responses={
            201: OpenApiResponse(s.SessionSerializer, description="Created and announced."),
            200: OpenApiResponse(
                s.SessionSerializer,
                description="The student already waits in a session: that one (a student "
                "has at most one waiting session), with `title` as its topic when the "
                "title given is new and not blank (coaches get `session:updated`); "
                "otherwise unchanged.",
            ),
            **s.error_responses(400, 401, 403),
        },
    )
    def create(self, request: Request) -> Response:
        """Open a waiting session: a student for themselves, the service account for
        `student_id`. Coaches on `lobby:coaches` get `session:waiting`. A student who
        already has a waiting session gets it back (200) instead of a second one; a new,
        non-blank `title` becomes its topic, and coaches get `session:updated` with it.

        The service account may attach `swings` at once (all stored or none, each
        logged as `swing:added`), to the session it gets back either way; they are in
        the session's detail and `swings/`."""
        policy.check_create_session(request.user)
        data = validated(s.SessionCreateSerializer, request.data)
        student = None
        if "student_id" in data:
            student = get_user_model().objects.filter(pk=data["student_id"]).first()
            if student is None:
                raise ServiceError("invalid_input", "No such student.", field="student_id")
        with transaction.atomic():
            session, created = session_create(
                creator=request.user, student=student, title=data["title"]
            )
            if data.get("swings"):
                swings_attach(
                    session_id=session.session_id, actor=request.user, swings=data["swings"]
                )
        return Response(
            events.lobby_entry(session),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        summary="Get a session",
        responses={200: s.SessionDetailSerializer, **s.error_responses(401, 404)},
    )
    def retrieve(self, request: Request, session_id: str) -> Response:
        """One session you may see, with the seq it is current to and its swings."""
        session = self.visible(session_id)
        return Response(
            {
                **events.lobby_entry(session),
                "last_seq": session.last_seq,
                "swings": [events.swing(w) for w in selectors.swing_list(session)],
            }
        )

    @extend_schema(
        summary="Claim a session (coach)",
        request=None,
        responses={200: s.SessionSerializer, **s.error_responses(401, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def claim(self, request: Request, session_id: str) -> Response:
        """A coach takes the session: waiting → active; 409 if another coach has it.
        Broadcasts `session:state` to the session and `session:claimed` to the lobby."""
        session = session_claim(session_id=session_id, coach=request.user)
        return Response(events.lobby_entry(session))

    @extend_schema(
        summary="Chat history",
        parameters=[s.MessagesQuerySerializer],
        responses={
            200: s.ChatMessageSerializer(many=True),
            **s.error_responses(400, 401, 403, 404),
        },
    )
    @action(detail=True, methods=["get"])
    def messages(self, request: Request, session_id: str) -> Response:
        """Participants and admins: chat lines in seq order, as `chat:added` payloads;
        `after_seq` gives only what came after it; `before_seq` pages back from it
        (page 1 is the newest page before it, each page oldest first)."""
        session = self.visible(session_id)
        policy.check_read(request.user, session)
        query = validated(s.MessagesQuerySerializer, request.query_params)
        if "before_seq" in query:
            response = self.paginated(
                selectors.chat_before(session, query["before_seq"]), events.chat_added
            )
            response.data["results"].reverse()
            return response
        return self.paginated(
            selectors.chat_history(session, after_seq=query["after_seq"]), events.chat_added
        )

    @extend_schema(
        summary="Post a chat line (student, coach)",
        request=s.ChatMessageCreateSerializer,
        responses={
            201: OpenApiResponse(
                s.ChatMessageSerializer,
                description="Stored and broadcast as `chat:added`; a retry with a stored "
                "`client_msg_id` answers the same, with the line first stored (sent once).",
            ),
            **s.error_responses(400, 401, 403, 404, 409),
        },
    )
    @messages.mapping.post
    def message_create(self, request: Request, session_id: str) -> Response:
        """The session's student or coach posts a chat line, as the socket's `chat:new`
        does: the same rules, the same store, the same errors."""
        self.visible(session_id)
        body = request.data
        if not isinstance(body, dict):
            raise ServiceError("invalid_input", "The body must be a JSON object.")
        payload = chat_message_post(
            session_id=session_id,
            sender=request.user,
            text=body.get("message"),
            client_msg_id=body.get("client_msg_id"),
        )
        return Response(payload, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Event log (the timeline)",
        parameters=[s.EventsQuerySerializer],
        responses={200: s.EventsPageSerializer, **s.error_responses(400, 401, 403, 404)},
        examples=[s.EVENTS_EXAMPLE],
    )
    @action(detail=True, methods=["get"])
    def events(self, request: Request, session_id: str) -> Response:
        """Participants and admins: the session's persisted events (chat, state, notices,
        feedback, checkpoints, analysis milestones), `limit` of them before `before_seq`
        (the newest without it), oldest first; `has_more` says whether earlier ones remain."""
        session = self.visible(session_id)
        policy.check_read(request.user, session)
        query = validated(s.EventsQuerySerializer, request.query_params)
        return Response(
            selectors.events_before(session, query.get("before_seq"), limit=query["limit"])
        )

    @extend_schema(
        summary="Lesson recap",
        responses={200: s.RecapSerializer, **s.error_responses(401, 403, 404)},
        examples=[s.RECAP_EXAMPLE],
    )
    @action(detail=True, methods=["get"])
    def recap(self, request: Request, session_id: str) -> Response:
        """Participants and admins: duration, every feedback card, the coach's checkpoints
        and what to practise. Before the end: the same so far (`ended_at` null)."""
        session = self.visible(session_id)
        policy.check_read(request.user, session)
        return Response(selectors.session_recap(session))

    @extend_schema(
        summary="Lesson replay",
        responses={200: s.ReplaySerializer, **s.error_responses(401, 404)},
    )
    @action(detail=True, methods=["get"])
    def replay(self, request: Request, session_id: str) -> Response:
        """The session's student and coach, and admins: the lesson as it can be replayed,
        its swings, its whole event log and the recorded review (the settled playback
        states, finished live strokes and clears), on one clock of server epoch ms."""
        session = self.visible(session_id)
        policy.check_replay(request.user, session)
        return Response(replay_document(session))

    @extend_schema(
        summary="List feedback cards",
        responses={200: s.FeedbackSerializer(many=True), **s.error_responses(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["get"])
    def feedback(self, request: Request, session_id: str) -> Response:
        """Participants and admins: the session's feedback cards in seq order."""
        session = self.visible(session_id)
        policy.check_read(request.user, session)
        return self.paginated(selectors.feedback_list(session), events.ai_feedback)

    @extend_schema(
        summary="Post a feedback card (service)",
        request=s.FeedbackCreateSerializer,
        examples=[s.FEEDBACK_EXAMPLE],
        responses={
            201: OpenApiResponse(s.FeedbackSerializer, description="Stored and broadcast."),
            200: OpenApiResponse(
                s.FeedbackSerializer,
                description="A retry: this swing's card was stored before; it is returned "
                "unchanged and not broadcast again.",
            ),
            **s.error_responses(400, 401, 403, 404),
        },
    )
    @feedback.mapping.post
    def feedback_create(self, request: Request, session_id: str) -> Response:
        """Service account: store the AI analysis of a swing and broadcast `ai:feedback`.
        Idempotent per `swing_id`. Feedback for an ended session is still stored."""
        self.visible(session_id)
        policy.check_service(request.user)
        data = validated(s.FeedbackCreateSerializer, request.data)
        payload, created = feedback_record(session_id=session_id, actor=request.user, **data)
        return Response(payload, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary="Post analysis progress (service)",
        request=s.ProgressSerializer,
        responses={
            202: OpenApiResponse(s.ProgressSerializer, description="Broadcast; nothing stored."),
            **s.error_responses(400, 401, 403, 404),
        },
    )
    @action(detail=True, methods=["post"])
    def progress(self, request: Request, session_id: str) -> Response:
        """Service account: broadcast an analysis progress tick as `swing:progress`.
        Ephemeral (not stored, no seq), so a retry merely repeats the tick."""
        self.visible(session_id)
        policy.check_service(request.user)
        data = validated(s.ProgressSerializer, request.data)
        payload = progress_post(session_id=session_id, actor=request.user, **data)
        return Response(payload, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Post a notice (service, admin)",
        request=s.NoticeCreateSerializer,
        responses={
            201: OpenApiResponse(s.NoticeSerializer, description="Stored and broadcast."),
            200: OpenApiResponse(
                s.NoticeSerializer,
                description="A retry with a known `notice_id`: the first notice, not sent again.",
            ),
            **s.error_responses(400, 401, 403, 404),
        },
    )
    @action(detail=True, methods=["post"])
    def notices(self, request: Request, session_id: str) -> Response:
        """Service account and admins: post a `system:notice` to everyone in the session."""
        self.visible(session_id)
        policy.check_post_notice(request.user)
        data = validated(s.NoticeCreateSerializer, request.data)
        payload, created = notice_post(session_id=session_id, actor=request.user, **data)
        return Response(payload, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary="List checkpoints",
        responses={200: s.CheckpointSerializer(many=True), **s.error_responses(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["get"])
    def checkpoints(self, request: Request, session_id: str) -> Response:
        """Participants and admins: the coach's saved feedback bookmarks in seq order."""
        session = self.visible(session_id)
        policy.check_read(request.user, session)
        return self.paginated(selectors.checkpoint_list(session), events.checkpoint_added)

    @extend_schema(
        summary="Save a checkpoint (coach)",
        request=s.CheckpointCreateSerializer,
        responses={201: s.CheckpointSerializer, **s.error_responses(400, 401, 403, 404)},
    )
    @checkpoints.mapping.post
    def checkpoint_create(self, request: Request, session_id: str) -> Response:
        """The session's coach bookmarks one of its feedback cards, with an optional note;
        broadcast as `checkpoint:added`."""
        session = self.visible(session_id)
        policy.check_checkpoint(request.user, session)
        data = validated(s.CheckpointCreateSerializer, request.data)
        payload = checkpoint_save(session_id=session_id, coach=request.user, **data)
        return Response(payload, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="List swings",
        responses={200: s.SwingSerializer(many=True), **s.error_responses(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["get"])
    def swings(self, request: Request, session_id: str) -> Response:
        """Participants and admins: the session's swings, in the order attached."""
        session = self.visible(session_id)
        policy.check_read(request.user, session)
        return self.paginated(selectors.swing_list(session), events.swing)

    @extend_schema(
        summary="Attach a swing (service)",
        request=s.SwingCreateSerializer,
        examples=[s.SWING_EXAMPLE, s.SWING_MINIMAL_EXAMPLE],
        responses={
            201: OpenApiResponse(
                s.SwingSerializer, description="Stored and broadcast as `swing:added`."
            ),
            200: OpenApiResponse(
                s.SwingSerializer,
                description="A retry: the session has this `swing_id` already; the stored "
                "swing is returned unchanged and not broadcast again.",
            ),
            **s.error_responses(400, 401, 403, 404),
        },
    )
    @swings.mapping.post
    def swing_create(self, request: Request, session_id: str) -> Response:
        """Service account: attach a recorded swing to the session; everyone in it gets
        `swing:added` (persisted, with a seq). Idempotent per `swing_id`. At most 100
        swings per session; an ended session still takes swings (for its record)."""
        self.visible(session_id)
        policy.check_service(request.user)
        data = validated(s.SwingCreateSerializer, request.data)
        swing, created = swing_attach(session_id=session_id, actor=request.user, swing=data)
        return Response(swing, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary="List annotations",
        responses={
            200: s.AnnotationSerializer(many=True),
            **s.error_responses(400, 401, 403, 404),
        },
    )
    @action(detail=True, methods=["get"])
    def annotations(self, request: Request, session_id: str) -> Response:
        """Participants and admins: the coach's saved drawings, in seq order."""
        session = self.visible(session_id)
        policy.check_read(request.user, session)
        return self.paginated(selectors.annotation_list(session), events.annotation_added)

    @extend_schema(
        summary="Save an annotation (coach)",
        request=s.AnnotationCreateSerializer,
        examples=[s.ANNOTATION_EXAMPLE],
        responses={
            201: OpenApiResponse(
                s.AnnotationSerializer, description="Stored and broadcast as `annotation:added`."
            ),
            **s.error_responses(400, 401, 403, 404, 409),
        },
    )
    @annotations.mapping.post
    def annotation_create(self, request: Request, session_id: str) -> Response:
        """The session's coach saves a drawing on a frame of one of its swings (at most 50
        shapes, a note of up to 500 characters; at least one of them); everyone gets
        `annotation:added`. Not after the session has ended (`session_ended`)."""
        session = self.visible(session_id)
        policy.check_annotate(request.user, session)
        data = validated(s.AnnotationCreateSerializer, request.data)
        payload = annotation_save(session_id=session_id, coach=request.user, **data)
        return Response(payload, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="List share links (student, coach)",
        responses={200: s.ShareSerializer(many=True), **s.error_responses(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["get"])
    def shares(self, request: Request, session_id: str) -> Response:
        """The session's student and coach: the links to its recap, newest first, revoked
        and expired ones too (`state`). Never a link's URL: it is shown once, when made."""
        session = self.visible(session_id)
        policy.check_share(request.user, session)
        return self.paginated(share_list(session_id=session_id, user=request.user), share_entry)

    @extend_schema(
        summary="Make a share link (student, coach)",
        request=s.ShareCreateSerializer,
        responses={
            201: OpenApiResponse(
                s.ShareCreatedSerializer,
                description="The link (`url`), shown this once: only a digest of its secret "
                "is kept.",
            ),
            **s.error_responses(400, 401, 403, 404),
        },
    )
    @shares.mapping.post
    def share_create(self, request: Request, session_id: str) -> Response:
        """The session's student or coach makes a link that opens the lesson's recap
        read-only, without an account, for `expires_in_days` (1 to 30, 7 by default). The
        page shows display names only; after expiry or revocation it answers 410."""
        session = self.visible(session_id)
        policy.check_share(request.user, session)
        data = validated(s.ShareCreateSerializer, request.data)
        share, secret = share_create(session_id=session_id, user=request.user, **data)
        url = request.build_absolute_uri(share_path(share.share_id, secret))
        return Response({**share_entry(share), "url": url}, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Revoke a share link (student, coach)",
        parameters=[OpenApiParameter("share_id", OpenApiTypes.STR, OpenApiParameter.PATH)],
        responses={
            204: OpenApiResponse(description="Revoked (or already revoked): its page is gone."),
            **s.error_responses(401, 403, 404),
        },
    )
    @action(detail=True, methods=["delete"], url_path=r"shares/(?P<share_id>[A-Za-z0-9_\-]+)")
    def share_delete(self, request: Request, session_id: str, share_id: str) -> Response:
        """The session's student or coach revokes a link: its page answers 410 from now on."""
        session = self.visible(session_id)
        policy.check_share(request.user, session)
        share_revoke(session_id=session_id, share_id=share_id, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LessonViewSet(viewsets.GenericViewSet):
    """The library: past (ended) lessons."""

    serializer_class = s.LessonSerializer
    pagination_class = Pagination

    @extend_schema(
        summary="Past lessons (the library)",
        parameters=[s.LessonListQuerySerializer],
        responses={
            200: s.LessonSerializer(many=True),
            **s.error_responses(400, 401, 404, not_found="No such page (`not_found`)."),
        },
    )
    def list(self, request: Request) -> Response:
        """Ended lessons, newest first, paginated: a student's own, a coach's taught, every
        one for admins and the service account; optionally with one `coach` or
        `student`, a `club`, or between `date_from` and `date_to`."""
        query = validated(s.LessonListQuerySerializer, request.query_params)
        lessons = selectors.library_lessons(
            request.user,
            coach_id=query.get("coach"),
            student_id=query.get("student"),
            club=query.get("club"),
            date_from=query.get("date_from"),
            date_to=query.get("date_to"),
        )
        page = self.paginate_queryset(lessons)
        return self.get_paginated_response([selectors.lesson_entry(item) for item in page])

    @extend_schema(
        summary="What the library filters by",
        responses={200: s.LessonFiltersSerializer, **s.error_responses(401)},
    )
    @action(detail=False, methods=["get"])
    def filters(self, request: Request) -> Response:
        """The coaches, students and clubs of your past lessons, for the library's filters."""
        return Response(selectors.library_filters(request.user))


STUDENT_ID = OpenApiParameter(
    "student_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The student's id."
)


class StudentViewSet(viewsets.GenericViewSet):
    """A student's swing metrics across lessons."""

    lookup_field = "student_id"
    lookup_value_regex = r"[0-9]+"
    serializer_class = s.StudentProgressSerializer

    def student_id(self, student_id: str) -> int:
        """The path's id (one the database cannot hold names no student: 404)."""
        path = s.StudentPathSerializer(data={"student_id": student_id})
        if not path.is_valid():
            raise ServiceError("not_found", "No such student.")
        return path.validated_data["student_id"]

    @extend_schema(
        summary="A student's progress in one metric",
        parameters=[STUDENT_ID, s.StudentProgressQuerySerializer],
        responses={
            200: s.StudentProgressSerializer,
            **s.error_responses(
                400, 401, 404, not_found="No such student, or not one you may see (`not_found`)."
            ),
        },
    )
    @action(detail=True, methods=["get"])
    def progress(self, request: Request, student_id: str) -> Response:
        """The student, coaches who taught them and admins: one metric of the catalog across
        all the student's lessons, one point per analysed swing (at most the newest 1000),
        oldest first, in the catalog's unit."""
        student = self.student_id(student_id)
        query = validated(s.StudentProgressQuerySerializer, request.query_params)
        return Response(
            student_progress(viewer=request.user, student_id=student, metric=query["metric"])
        )

    @extend_schema(
        summary="Which metrics a student has values for",
        parameters=[STUDENT_ID],
        responses={
            200: s.StudentMetricsSerializer,
            **s.error_responses(
                401, 404, not_found="No such student, or not one you may see (`not_found`)."
            ),
        },
    )
    @action(detail=True, methods=["get"])
    def metrics(self, request: Request, student_id: str) -> Response:
        """The student, coaches who taught them and admins: the catalog's metrics the
        student's swings have values for, with how many and the newest's time."""
        student = self.student_id(student_id)
        return Response(student_metrics(viewer=request.user, student_id=student))
