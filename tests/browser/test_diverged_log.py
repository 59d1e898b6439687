"""The session page when the database lost events it showed and gave their seqs to new
ones (docs/protocol.md, Recovery): its timeline starts over from the server's snapshot,
and lines still in its outbox are kept and sent."""

from coaching.models import CoachingSession
from coaching.services.chat import chat_message_post
from tests.browser.conftest import expect, expect_online, in_thread, log_in
from tests.support.event_log import lose_events_after
from tests.support.proxy import TcpProxy

RELOADED = "The timeline was reloaded from the server."


def chat_texts(page):
    return page.locator("#chat-list .chat-msg .chat-text")


def send(page, text: str) -> None:
    page.locator("#chat-input").fill(text)
    page.locator("#chat-input").press("Enter")
    expect(page.locator("#chat-input")).to_have_value("")


def post(session: CoachingSession, sender, *texts: str) -> list[dict]:
    def run() -> list[dict]:
        return [
            chat_message_post(session_id=session.session_id, sender=sender, text=text)
            for text in texts
        ]

    return in_thread(run)


def test_the_timeline_starts_over_when_a_seq_it_showed_comes_again(
    server, active_session, student, coach, pages
):
    """Joined: the new event at a seq the page was sent makes the server end the join,
    and the page's rejoin (with the seq and eid it holds) brings the snapshot."""
    page = pages.open("student")
    log_in(page, student, lands_on="/student/")
    page.goto(f"/sessions/{active_session.session_id}/")
    expect_online(page)
    one, _, _ = post(active_session, coach, "one", "two", "three")
    expect(chat_texts(page)).to_have_text(["one", "two", "three"])

    in_thread(lose_events_after, active_session, one["seq"])
    post(active_session, coach, "two again")
    expect(chat_texts(page)).to_have_text(["one", "two again"])
    expect(page.locator("#timeline-live")).to_have_text(RELOADED)
    expect_online(page)
    # Current to the server's log again: the next line follows at once.
    post(active_session, coach, "three again")
    expect(chat_texts(page)).to_have_text(["one", "two again", "three again"])
    assert pages.errors == []


def test_a_page_back_after_the_loss_starts_over_and_sends_its_outbox(
    server, active_session, student, coach, pages
):
    """Away while the server lost and reused the seqs: the reconnect's rejoin gets the
    snapshot instead of a replay; a line written meanwhile is sent after it, once."""
    proxy = TcpProxy(server.port)
    try:
        page = pages.open("student", base_url=proxy.http_url)
        log_in(page, student, lands_on="/student/")
        page.goto(f"/sessions/{active_session.session_id}/")
        expect_online(page)
        one, _, _ = post(active_session, coach, "one", "two", "three")
        expect(chat_texts(page)).to_have_text(["one", "two", "three"])

        proxy.outage()
        expect(page.locator("#connection")).not_to_have_attribute("data-state", "online")
        send(page, "written meanwhile")
        expect(page.locator("#chat-list .chat-msg.is-sending")).to_have_count(1)
        in_thread(lose_events_after, active_session, one["seq"])
        post(active_session, coach, "two again", "three again")

        proxy.restore()
        expect_online(page, timeout=15_000)
        expected = ["one", "two again", "three again", "written meanwhile"]
        expect(chat_texts(page)).to_have_text(expected)
        expect(page.locator("#chat-list .chat-msg.is-sending")).to_have_count(0)
        page.reload()
        expect_online(page)
        expect(chat_texts(page)).to_have_text(expected)
        assert pages.errors == []
    finally:
        proxy.close()
