"""SlackDelivery through the real ``slack_sdk.WebClient`` against the local FakeSlack server."""

from __future__ import annotations

import json
import pickle
import socket
import time
import traceback
from collections.abc import Callable, Iterator

import pytest
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from report_pipelines.slack.previews import write_preview
from report_pipelines.slack.delivery import (
    RetryAfterHandler,
    SlackDelivery,
    SlackDeliveryError,
    clear_channel_cache,
    make_client,
)
from report_pipelines_tests.fakes.slack_api import BOT_ID, BOT_USER_ID, FakeSlack

TOKEN = "xoxb-good-0001"
UNKNOWN_TOKEN = "xoxb-unknown-0002"
TEAM = "T0001"
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Sales* are up"}}]


@pytest.fixture(autouse=True)
def _local_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # WebClient routes through HTTP(S)_PROXY when set; the fake lives on loopback.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    clear_channel_cache()
    yield
    clear_channel_cache()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(tokens={TOKEN: TEAM}) as fake:
        yield fake


@pytest.fixture
def delivery(slack: FakeSlack) -> SlackDelivery:
    return SlackDelivery(token=TOKEN, team_id=TEAM, base_url=slack.url)


def test_channel_names_resolve_across_pages_in_one_sweep_then_from_cache(
    slack: FakeSlack, delivery: SlackDelivery
) -> None:
    for number in range(450):
        slack.add_channel(f"C1{number:06d}", f"team-{number:03d}")

    assert delivery.resolve_channel("#team-420") == "C1000420"
    sweep = slack.calls_to("conversations.list")
    assert len(sweep) == 3  # 452 channels in pages of 200
    assert all(call["limit"] == "200" for call in sweep)
    assert all(call["types"] == "public_channel,private_channel" for call in sweep)
    assert all(call["exclude_archived"] in ("1", "true") for call in sweep)
    assert "cursor" not in sweep[0] and sweep[1]["cursor"] and sweep[2]["cursor"]

    assert delivery.resolve_channel("sales") == "C0SALES"
    assert delivery.resolve_channel("#Team-001") == "C1000001"
    again = SlackDelivery(token=TOKEN, team_id=TEAM, base_url=slack.url)
    assert again.resolve_channel("#general") == "C0GENERAL"
    assert len(slack.calls_to("conversations.list")) == 3


def test_cache_miss_refreshes_once_then_reports_channel_not_found(
    slack: FakeSlack, delivery: SlackDelivery
) -> None:
    assert delivery.resolve_channel("#sales") == "C0SALES"
    slack.add_channel("C0LAUNCH", "launch")
    assert delivery.resolve_channel("#launch") == "C0LAUNCH"
    assert len(slack.calls_to("conversations.list")) == 2

    with pytest.raises(SlackDeliveryError) as caught:
        delivery.resolve_channel("#missing")
    assert caught.value.code == "channel_not_found"
    assert "#missing" in str(caught.value) and TEAM in str(caught.value)
    assert len(slack.calls_to("conversations.list")) == 3


def test_archived_and_uninvited_private_channels_do_not_resolve_by_name(
    slack: FakeSlack, delivery: SlackDelivery
) -> None:
    slack.add_channel("C0OLDNEWS", "old-news", is_archived=True)
    slack.add_channel("G0SECRET", "secret", is_private=True, is_member=False)
    slack.add_channel("G0INNER", "inner", is_private=True)
    assert delivery.resolve_channel("inner") == "G0INNER"
    for name in ("old-news", "secret"):
        with pytest.raises(SlackDeliveryError) as caught:
            delivery.resolve_channel(name)
        assert caught.value.code == "channel_not_found"


@pytest.mark.parametrize("channel_id", ["C0SALES", "G0PRIVATE", "D00000042", " C0GENERAL "])
def test_channel_ids_pass_through_without_calls(
    slack: FakeSlack, delivery: SlackDelivery, channel_id: str
) -> None:
    assert delivery.resolve_channel(channel_id) == channel_id.strip()
    assert slack.calls == []


def test_dm_by_user_id_and_by_email_reach_the_same_channel(
    slack: FakeSlack, delivery: SlackDelivery
) -> None:
    by_id = delivery.open_dm("U0ALICE")
    by_email = delivery.open_dm("Alice@Example.com")
    assert by_id == by_email and by_id.startswith("D")
    assert slack.calls_to("users.lookupByEmail") == [{"email": "Alice@Example.com"}]
    assert [call["users"] for call in slack.calls_to("conversations.open")] == ["U0ALICE"] * 2

    posted = delivery.post_message(by_id, BLOCKS, "Sales are up")
    assert slack.posts[0]["channel"] == by_id == posted.channel


def test_dm_to_unknown_email_says_who_was_not_found(delivery: SlackDelivery) -> None:
    with pytest.raises(SlackDeliveryError) as caught:
        delivery.open_dm("nobody@example.com")
    assert caught.value.code == "users_not_found"
    assert "no Slack user with email nobody@example.com" in str(caught.value)


def test_post_message_records_blocks_text_and_no_unfurls(
    slack: FakeSlack, delivery: SlackDelivery
) -> None:
    posted = delivery.post_message("C0SALES", BLOCKS, "Sales are up")

    [post] = slack.posts
    assert (post["channel"], post["text"], post["blocks"], post["team"]) == (
        "C0SALES",
        "Sales are up",
        BLOCKS,
        TEAM,
    )
    assert posted.ts == post["ts"] and posted.warnings == []
    [call] = slack.calls_to("chat.postMessage")
    assert call["unfurl_links"] is False and call["unfurl_media"] is False


def test_overlong_text_is_posted_truncated_with_a_warning(
    slack: FakeSlack, delivery: SlackDelivery
) -> None:
    posted = delivery.post_message("C0SALES", None, "x" * 40_001)
    assert posted.warnings == ["message_truncated"]
    assert len(slack.posts[0]["text"]) == 40_000


def test_rate_limited_post_waits_retry_after_and_posts_once(
    slack: FakeSlack, delivery: SlackDelivery
) -> None:
    slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    started = time.monotonic()

    posted = delivery.post_message("C0SALES", BLOCKS, "Sales are up")

    assert time.monotonic() - started >= 1
    assert len(slack.calls_to("chat.postMessage")) == 2
    assert [post["ts"] for post in slack.posts] == [posted.ts]


def test_steady_rate_limit_is_waited_out(slack: FakeSlack, delivery: SlackDelivery) -> None:
    slack.set_rate("chat.postMessage", per_second=1.0)
    first = delivery.post_message("C0SALES", None, "one")
    second = delivery.post_message("C0SALES", None, "two")
    assert float(first.ts) < float(second.ts)
    assert [post["text"] for post in slack.posts] == ["one", "two"]
    assert len(slack.calls_to("chat.postMessage")) == 3


def test_server_error_on_post_is_not_retried(slack: FakeSlack, delivery: SlackDelivery) -> None:
    slack.fail_next("chat.postMessage", error="internal_error", status=500)

    with pytest.raises(SlackDeliveryError) as caught:
        delivery.post_message("C0SALES", BLOCKS, "Sales are up")

    assert (caught.value.code, caught.value.status) == ("internal_error", 500)
    assert "check the channel before re-running" in str(caught.value)
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert slack.posts == []


def test_dropped_connection_on_post_is_not_retried(
    slack: FakeSlack, delivery: SlackDelivery
) -> None:
    slack.drop_next("chat.postMessage")

    with pytest.raises(SlackDeliveryError) as caught:
        delivery.post_message("C0SALES", BLOCKS, "Sales are up")

    assert caught.value.code == "http_error"
    # Slack acted before the connection dropped: a retry would have posted a second copy.
    assert len(slack.posts) == 1
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_read_only_calls_retry_server_errors_and_dropped_connections(
    slack: FakeSlack, delivery: SlackDelivery
) -> None:
    slack.fail_next("conversations.list", error="internal_error", status=503)
    slack.drop_next("auth.test")

    assert delivery.resolve_channel("#sales") == "C0SALES"
    assert delivery.auth_test()["team_id"] == TEAM
    assert len(slack.calls_to("conversations.list")) == 2
    assert len(slack.calls_to("auth.test")) == 2


def _private_uninvited(slack: FakeSlack, delivery: SlackDelivery) -> None:
    slack.add_channel("G0SECRET", "secret", is_private=True, is_member=False)
    delivery.post_message("G0SECRET", BLOCKS, "hi")


def _public_without_write_public(slack: FakeSlack, delivery: SlackDelivery) -> None:
    slack.scopes.remove("chat:write.public")
    slack.add_channel("C0MARKETING", "marketing", is_member=False)
    delivery.post_message(delivery.resolve_channel("#marketing"), BLOCKS, "hi")


def _unknown_channel(slack: FakeSlack, delivery: SlackDelivery) -> None:
    delivery.post_message("C0NOWHERE", BLOCKS, "hi")


def _archived(slack: FakeSlack, delivery: SlackDelivery) -> None:
    slack.add_channel("C0OLDNEWS", "old-news", is_archived=True)
    delivery.post_message("C0OLDNEWS", BLOCKS, "hi")


def _unknown_token(slack: FakeSlack, delivery: SlackDelivery) -> None:
    SlackDelivery(token=UNKNOWN_TOKEN, team_id=TEAM, base_url=slack.url).post_message(
        "C0SALES", BLOCKS, "hi"
    )


def _revoked_token(slack: FakeSlack, delivery: SlackDelivery) -> None:
    slack.revoke(TOKEN)
    delivery.auth_test()


def _header_too_long(slack: FakeSlack, delivery: SlackDelivery) -> None:
    header = {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}
    delivery.post_message("C0SALES", [*BLOCKS, {"type": "divider"}, *BLOCKS, header], "hi")


@pytest.mark.parametrize(
    ("scenario", "code", "fragments"),
    [
        (_private_uninvited, "not_in_channel", ["invite the bot to G0SECRET"]),
        (_public_without_write_public, "not_in_channel", ["invite the bot to #marketing"]),
        (
            _unknown_channel,
            "channel_not_found",
            ["channel C0NOWHERE not found in workspace T0001", "check slack_channel"],
        ),
        (_archived, "is_archived", ["C0OLDNEWS", "is archived"]),
        (
            _unknown_token,
            "invalid_auth",
            ["workspace T0001 is invalid or revoked", "workspaces add"],
        ),
        (
            _revoked_token,
            "token_revoked",
            ["workspace T0001 is invalid or revoked", "workspaces add"],
        ),
        (_header_too_long, "invalid_blocks", ["[json-pointer:/blocks/3/text/text]"]),
    ],
    ids=["private", "public", "not_found", "archived", "invalid_auth", "revoked", "blocks"],
)
def test_slack_errors_map_to_actionable_messages(
    slack: FakeSlack,
    delivery: SlackDelivery,
    scenario: Callable[[FakeSlack, SlackDelivery], object],
    code: str,
    fragments: list[str],
) -> None:
    with pytest.raises(SlackDeliveryError) as caught:
        scenario(slack, delivery)

    assert caught.value.code == code
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert slack.posts == []
    everything = "".join(traceback.format_exception(caught.value))
    assert TOKEN not in everything and UNKNOWN_TOKEN not in everything


def test_delivery_errors_survive_pickling(delivery: SlackDelivery) -> None:
    with pytest.raises(SlackDeliveryError) as caught:
        delivery.post_message("C0NOWHERE", BLOCKS, "hi")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.code, copy.method, copy.status, str(copy)) == (
        "channel_not_found",
        "chat.postMessage",
        200,
        str(caught.value),
    )


def test_invalid_blocks_error_keeps_slacks_pointers(
    slack: FakeSlack, delivery: SlackDelivery
) -> None:
    too_many_fields = {
        "type": "section",
        "fields": [{"type": "mrkdwn", "text": "f"}] * 11,
    }
    with pytest.raises(SlackDeliveryError) as caught:
        delivery.post_message("C0SALES", [{"type": "chart"}, too_many_fields], "hi")
    assert caught.value.errors == [
        "unsupported type: chart [json-pointer:/blocks/0/type]",
        "no more than 10 items allowed [json-pointer:/blocks/1/fields]",
    ]


def test_unreachable_slack_is_an_http_error_without_the_token() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = SlackDelivery(token=TOKEN, team_id=TEAM, base_url=f"http://127.0.0.1:{port}/api/")

    with pytest.raises(SlackDeliveryError) as caught:
        closed.post_message("C0SALES", BLOCKS, "hi")

    assert caught.value.code == "http_error"
    assert TOKEN not in "".join(traceback.format_exception(caught.value))
    assert TOKEN not in repr(closed)


def test_auth_test_reports_identity_and_granted_scopes() -> None:
    scopes = ["chat:write", "channels:read", "groups:read"]
    with FakeSlack(tokens={TOKEN: "T0999"}, scopes=scopes) as slack:
        identity = SlackDelivery(token=TOKEN, team_id="T0999", base_url=slack.url).auth_test()
    assert identity == {
        "team_id": "T0999",
        "team": "Workspace T0999",
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "scopes": scopes,
    }


def test_upload_file_shares_bytes_in_the_thread(slack: FakeSlack, delivery: SlackDelivery) -> None:
    posted = delivery.post_message("C0SALES", BLOCKS, "Sales are up")
    file_id = delivery.upload_file(
        "C0SALES", "sales.csv", b"day,total\n2024-01-01,10\n", thread_ts=posted.ts
    )
    [shared] = slack.files
    assert shared["id"] == file_id
    assert shared["bytes"] == b"day,total\n2024-01-01,10\n"
    assert (shared["channel_id"], shared["thread_ts"], shared["title"]) == (
        "C0SALES",
        posted.ts,
        "sales.csv",
    )


def test_make_client_reads_slack_api_url_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api")
    client = make_client("xoxb-any")
    assert client.base_url == "http://127.0.0.1:9/api/"
    # Posting retries only 429s (our Retry-After handler); no connection-error handler.
    assert [type(handler) for handler in client.retry_handlers] == [RetryAfterHandler]
    assert isinstance(client.retry_handlers[0], RateLimitErrorRetryHandler)
    monkeypatch.delenv("SLACK_API_URL")
    assert make_client("xoxb-any").base_url == "https://slack.com/api/"


def test_write_preview_writes_pretty_json_atomically(tmp_path) -> None:
    payload = {"text": "📊 Daily Sales", "blocks": BLOCKS}

    path = write_preview(tmp_path, "daily_sales", "2024-01-01-09:00", payload)
    write_preview(tmp_path, "daily_sales", "2024-01-01-09:00", {**payload, "text": "rerun"})

    assert path == tmp_path / "daily_sales" / "2024-01-01-09-00.json"
    assert json.loads(path.read_text(encoding="utf-8")) == {**payload, "text": "rerun"}
    assert path.read_text(encoding="utf-8").startswith('{\n  "text"')
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_write_preview_refuses_path_separators(tmp_path) -> None:
    with pytest.raises(ValueError):
        write_preview(tmp_path, "../elsewhere", "2024-01-01-09:00", {})
