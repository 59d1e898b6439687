"""The Phoenix Presence payloads: `presence:state` and `presence:diff`, and the merging
of diffs.

An entry is one connection's join: key = user id, one meta per connection, told apart
by a unique `phx_ref`. A state lists a topic's entries by key; a diff, the entries
that joined and those that left.
"""

import secrets
from collections import defaultdict
from typing import Any

PRESENCE_STATE = "presence:state"
PRESENCE_DIFF = "presence:diff"

Meta = dict[str, Any]
State = dict[str, dict[str, list[Meta]]]
Entry = tuple[str, str, Meta]  # (topic, key, meta)


def new_ref() -> str:
    return secrets.token_urlsafe(12)


def group_state(entries: list[tuple[str, Meta]]) -> State:
    state: dict[str, dict[str, list[Meta]]] = defaultdict(lambda: {"metas": []})
    for key, meta in sorted(entries, key=lambda e: e[1].get("online_at", 0)):
        state[key]["metas"].append(meta)
    return dict(state)


def diff(joins: list[tuple[str, Meta]], leaves: list[tuple[str, Meta]]) -> dict[str, State]:
    return {"joins": group_state(joins), "leaves": group_state(leaves)}


def merged_diff(earlier: dict[str, State], later: dict[str, State]) -> dict[str, State]:
    """Two diffs of a topic as one. A client applies a diff's joins, then its leaves, by
    meta ref; a ref joins once and leaves at most once after, so the merged diff leaves
    the same presence as the two in order (Phoenix's tracker merges deltas alike)."""
    return merged_diffs([earlier, later])


def merged_diffs(diffs: list[dict[str, State]]) -> dict[str, State]:
    """Diffs of a topic, in order, as one (see merged_diff): each meta copied once."""
    merged: dict[str, State] = {}
    for part in ("joins", "leaves"):
        keys: dict[str, list[Meta]] = {}
        for source in diffs:
            for key, entry in source[part].items():
                keys.setdefault(key, []).extend(entry["metas"])
        merged[part] = {key: {"metas": metas} for key, metas in keys.items()}
    return merged
