"""When a user's access ends, their tokens stop working and their open sockets close.

Access ends on logout from the pages, deactivation (`is_active` set to False), a
change of role, staff or superuser status, a password change, and deletion. Each bumps the
user's `token_generation`. Every token carries the generation it was issued under
(claim `gen`; a token without it counts as generation 0), and both the socket's
connect check and REST's JWT authentication refuse a token of an older generation.
Then a `disconnect` broadcast on the user's own topic (`user_socket:{id}`, which
every socket of the user subscribes to, on every process) closes their sockets.

Where the triggers hook in: logout calls `user_access_end` (Django's
`user_logged_out` signal, sent by the logout view); every other trigger is a change
saved on the User row, caught by the pre_save/post_save pair below, so the admin,
`create_user`, a password change form and plain ORM saves are all covered without
each remembering to call a service. `QuerySet.update()` sends no signals: code
that changes those fields that way must call `user_access_end` itself.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.db.models import F
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from rest_framework_simplejwt.tokens import Token

from coaching import broadcasts
from coaching.models import User

GENERATION_CLAIM = "gen"
DISCONNECT = "disconnect"
# A change of any of these ends the user's current access.
ROLE_FIELDS = ("role", "is_staff", "is_superuser")
_WATCHED = ("is_active", "password", *ROLE_FIELDS)


def user_topic(user_id: int) -> str:
    """The topic every socket of the user listens to (like Phoenix's socket `id`)."""
    return f"user_socket:{user_id}"


def token_stamp(token: Token, user: User) -> Token:
    """Mark a token with the user's current generation (every token we issue)."""
    token[GENERATION_CLAIM] = user.token_generation
    return token


def token_is_current(claims: Mapping[str, Any], user: User) -> bool:
    """False for a token issued before the user's access last ended."""
    return claims.get(GENERATION_CLAIM, 0) == user.token_generation


def current_generations(user_ids: Iterable[int]) -> dict[int, int]:
    """Token generation of each of these users whose access holds (active ones only):
    a socket whose user is missing here, or has moved on, must close."""
    return dict(
        User.objects.filter(pk__in=set(user_ids), is_active=True).values_list(
            "pk", "token_generation"
        )
    )


def user_access_end(user: User, reason: str) -> None:
    """Void every token issued to the user so far and close their sockets everywhere."""
    User.objects.filter(pk=user.pk).update(token_generation=F("token_generation") + 1)
    user.token_generation = User.objects.values_list("token_generation", flat=True).get(pk=user.pk)
    user_sockets_disconnect(user.pk, reason)


def user_sockets_disconnect(user_id: int, reason: str) -> None:
    """Close the user's open sockets on every process (once the transaction commits)."""
    broadcasts.on_commit(user_topic(user_id), DISCONNECT, {"reason": reason})


def access_change(before: Mapping[str, Any], user: User) -> str | None:
    """Why saving `user` over the stored row `before` ends their access, if it does."""
    if before["is_active"] and not user.is_active:
        return "deactivated"
    if any(before[field] != getattr(user, field) for field in ROLE_FIELDS):
        return "role_changed"
    # `_password` is set by `set_password` and cleared again before the save that only
    # upgrades the stored hash at login (`check_password`): that one changes nothing.
    if before["password"] != user.password and getattr(user, "_password", None) is not None:
        return "password_changed"
    return None


@receiver(pre_save, sender=User, dispatch_uid="access_change_check")
def _check_access_change(
    sender: type[User], instance: User, raw: bool, update_fields: frozenset | None, **kwargs: Any
) -> None:
    instance._access_ended = None
    if raw or instance._state.adding:
        return
    if update_fields is not None and not set(update_fields) & set(_WATCHED):
        return  # e.g. the last_login update at each login: no query
    before = User.objects.filter(pk=instance.pk).values(*_WATCHED).first()
    if before is not None:
        instance._access_ended = access_change(before, instance)


@receiver(post_save, sender=User, dispatch_uid="access_change_end")
def _end_changed_access(sender: type[User], instance: User, **kwargs: Any) -> None:
    reason = getattr(instance, "_access_ended", None)
    if reason is not None:
        instance._access_ended = None
        user_access_end(instance, reason)


@receiver(post_delete, sender=User, dispatch_uid="access_delete")
def _end_deleted_access(sender: type[User], instance: User, **kwargs: Any) -> None:
    user_sockets_disconnect(instance.pk, "deleted")  # its tokens name no user any more


@receiver(user_logged_out, dispatch_uid="access_logout")
def _end_access_at_logout(sender: type, request: Any, user: User | None, **kwargs: Any) -> None:
    if user is not None:
        user_access_end(user, "logged_out")
