"""Presence diffs queued together on a topic go out as one, meaning the same to a client."""

from hypothesis import given
from hypothesis import strategies as st

from coaching.realtime.fanout import fanout
from coaching.realtime.presence import PRESENCE_DIFF, diff, merged_diff
from coaching.realtime.publish import broadcast_soon, outbox
from tests.support.subscribers import Collector


def sync_diff(state: dict, change: dict) -> dict:
    """phoenix.js `Presence.syncDiff`: a diff's joins (new metas after the ones already
    there, by ref), then its leaves (metas removed by ref, empty keys dropped)."""
    state = {key: {"metas": list(entry["metas"])} for key, entry in state.items()}
    for key, joined in change["joins"].items():
        refs = [meta["phx_ref"] for meta in joined["metas"]]
        kept = [m for m in state.get(key, {"metas": []})["metas"] if m["phx_ref"] not in refs]
        state[key] = {"metas": kept + list(joined["metas"])}
    for key, left in change["leaves"].items():
        if key not in state:
            continue
        refs = {meta["phx_ref"] for meta in left["metas"]}
        state[key]["metas"] = [m for m in state[key]["metas"] if m["phx_ref"] not in refs]
        if not state[key]["metas"]:
            del state[key]
    return state


def meta(ref: int) -> dict:
    return {"phx_ref": f"r{ref}", "role": "student", "online_at": ref}


@st.composite
def diffs(draw):
    """Diffs as a tracker makes them: each ref joins once, and may leave once, later."""
    joined: list[tuple[str, int]] = []
    out, ref = [], 0
    for _ in range(draw(st.integers(1, 8))):
        joins, leaves = [], []
        for _ in range(draw(st.integers(0, 3))):
            ref += 1
            joins.append((draw(st.sampled_from(["1", "2", "3"])), ref))
        for _ in range(draw(st.integers(0, 2))):
            if joined:
                leaves.append(joined.pop(draw(st.integers(0, len(joined) - 1))))
        joined.extend(joins)
        out.append(diff([(k, meta(r)) for k, r in joins], [(k, meta(r)) for k, r in leaves]))
    return out


@given(diffs())
def test_a_merged_diff_leaves_a_client_with_the_presence_the_diffs_in_order_leave(changes):
    in_order, merged = {}, changes[0]
    for change in changes:
        in_order = sync_diff(in_order, change)
    for change in changes[1:]:
        merged = merged_diff(merged, change)
    assert sync_diff({}, merged) == in_order


async def test_diffs_queued_together_on_a_topic_arrive_as_one_and_other_events_keep_their_place():
    topic, other = "session:sess_merge_diffs", "session:sess_merge_other"
    collector, bystander = Collector(), Collector()
    await fanout.subscribe(topic, collector)
    await fanout.subscribe(other, bystander)
    try:
        broadcast_soon(topic, PRESENCE_DIFF, diff([("1", meta(1))], []))
        broadcast_soon(other, PRESENCE_DIFF, diff([("9", meta(9))], []))
        broadcast_soon(topic, PRESENCE_DIFF, diff([("2", meta(2))], []))
        broadcast_soon(topic, "participant:joined", {"seq": 1})
        broadcast_soon(topic, PRESENCE_DIFF, diff([], [("1", meta(1))]))
        broadcast_soon(topic, PRESENCE_DIFF, diff([("1", meta(3))], []))
        await outbox.flush()
        received = [await collector.next() for _ in range(3)]
        elsewhere = await bystander.next()
    finally:
        await fanout.unsubscribe(topic, collector)
        await fanout.unsubscribe(other, bystander)
    assert [m["event"] for m in received] == [PRESENCE_DIFF, "participant:joined", PRESENCE_DIFF]
    assert received[0]["payload"] == diff([("1", meta(1)), ("2", meta(2))], [])
    assert received[2]["payload"] == {
        "joins": {"1": {"metas": [meta(3)]}},
        "leaves": {"1": {"metas": [meta(1)]}},
    }
    assert elsewhere["payload"] == diff([("9", meta(9))], [])
    assert collector.queue.empty()
