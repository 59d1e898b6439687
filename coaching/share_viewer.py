"""Who watches a lesson through a share link: no account, one lesson, read-only.

A `ShareViewer` stands where a `User` stands on the socket (transport, channel,
policy): `coaching.policy` gives it the `share` role in its own lesson and no other,
and it has no id of an account (its `pk` names its connection, for rate limits and
logs). How a share's socket token is made and checked: coaching/services/shares.py.
"""

from dataclasses import dataclass

SHARE_ROLE = "share"


@dataclass(frozen=True)
class ShareViewer:
    share_id: str
    session_id: str  # the lesson it may watch (its public id)
    pk: str  # this connection's own key: "share:{share_id}:{random}", never a user's id
    display_name: str = ""
    public_role: str = SHARE_ROLE
    is_staff: bool = False
    role: str | None = None  # no account role: every account rule refuses it
    token_generation: int = 0
