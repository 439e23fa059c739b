"""Questions in a report message's thread: answered by a run of the thread_question job from
that window's data, once, with the real slack_sdk against the local Slack (and google-genai
against the local Gemini)."""

from __future__ import annotations

import json

import dagster as dg
import duckdb
import pytest

from report_pipelines.definitions import build_repository
from report_pipelines.formatting import format_number
from report_pipelines.questions import question_tags
from report_pipelines.report_files import load_report_text
from report_pipelines.slack.delivery import clear_channel_cache
from report_pipelines.slack.interactive import question_of
from report_pipelines.store import ReportStore, WorkspaceStore
from report_pipelines_tests.conftest import REPORTS
from report_pipelines_tests.fakes.gemini_api import FakeGemini, analysis_reply, function_call_reply, text_reply
from report_pipelines_tests.fakes.slack_api import FakeSlack

TOKEN = "xoxb-7878-questions"
KEY = "2026-11-25-09:00"


@pytest.fixture
def delivered(home, secret_key, monkeypatch, instance):
    """The Regional Revenue report delivered to #sales for KEY; yields (store, slack, post)."""
    clear_channel_cache()
    for name in ("GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with FakeSlack(tokens={TOKEN: "T0001"}) as slack:
        monkeypatch.setenv("SLACK_API_URL", slack.url)
        WorkspaceStore().add("T0001", "Acme", TOKEN)
        store = ReportStore()
        store.add(load_report_text((REPORTS / "valid.yaml").read_text()))
        job = build_repository(store.job_shaping_rows()).get_job("report_regional_revenue")
        assert job.execute_in_process(instance=instance, partition_key=KEY).success
        (post,) = slack.posts
        yield store, slack, post


def ask(store, instance, post, question: str, key: str = "question/C0SALES/1764000001.000200"):
    report = store.get("regional_revenue")
    job = build_repository(store.job_shaping_rows()).get_job("thread_question")
    result = job.execute_in_process(instance=instance, tags=question_tags(
        report.id, KEY, question, post["channel"], post["ts"], key))
    output = next(e for e in result.all_events
                  if e.event_type == dg.DagsterEventType.STEP_OUTPUT and e.step_key == "answer_question")
    return result, {name: value.value for name, value in output.event_specific_data.metadata.items()}


def revenue(home, region: str | None = None):
    where = "order_date = DATE '2026-11-25'" + (f" AND region = '{region}'" if region else "")
    with duckdb.connect(str(home / "demo_warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(f"SELECT SUM(revenue) FROM sales WHERE {where}").fetchone()[0]


def replies(slack, post) -> list[dict]:
    return [p for p in slack.posts if p["thread_ts"] == post["ts"]]


def test_without_gemini_the_exact_figures_answer_and_say_what_they_cannot(delivered, home, instance):
    store, slack, post = delivered
    result, metadata = ask(store, instance, post, "Why did the North do so well?")
    assert result.success
    (reply,) = replies(slack, post)
    assert reply["channel"] == post["channel"]
    assert f"revenue totalled {format_number(revenue(home))}" in reply["text"]
    assert reply["text"].startswith("I can only answer from this window's exact figures")
    assert metadata["question"] == "Why did the North do so well?" and metadata["answer"] == reply["text"]
    assert "order_date >= @window_start_date" in metadata["sql"]
    # The same question again (Slack's retry, a re-executed run): answered once.
    again, metadata = ask(store, instance, post, "Why did the North do so well?")
    assert again.success and len(replies(slack, post)) == 1 and metadata["reply"].startswith("already answered")


def test_gemini_answers_from_the_window_and_its_invented_figures_are_dropped(delivered, home, instance, monkeypatch):
    store, slack, post = delivered
    north = revenue(home, "North")
    sql = ("SELECT region, SUM(revenue) AS revenue FROM sales WHERE order_date >= @window_start_date "
           "AND order_date < @window_end_date GROUP BY region ORDER BY region")
    with FakeGemini() as gemini:
        monkeypatch.setenv("GOOGLE_API_KEY", gemini.api_key)
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", gemini.url)
        gemini.reply(
            function_call_reply(("run_sql", {"sql": sql})),
            text_reply("North led."),
            analysis_reply(summary=f"North brought in {north:,} on the day. The South made 999,999.",
                           insights=["North led the regions."]),
        )
        result, metadata = ask(store, instance, post, "How much did the North make?")
    assert result.success
    (reply,) = replies(slack, post)
    assert f"North brought in {north:,} on the day." in reply["text"] and "999,999" not in reply["text"]
    assert metadata["figures_unsupported"] == 1 and metadata["removed_sentences"] == ["The South made 999,999."]
    # The tool ran bound to the report's window: its answer held that day's figures.
    output = gemini.requests[1].function_responses[-1]["response"]["output"]
    assert format_number(north).replace(",", "") in output.replace(",", "") or str(north) in output
    assert sql in metadata["sql"] and "How much did the North make?" in gemini.requests[0].text


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"type": "message", "channel": "C1", "ts": "2.0", "thread_ts": "1.0", "text": "why?", "user": "U1"}, "why?"),
        ({"type": "app_mention", "channel": "C1", "ts": "2.0", "thread_ts": "1.0", "text": "<@U0BOT> why?", "user": "U1"}, "why?"),
        ({"type": "message", "channel": "C1", "ts": "1.0", "text": "top level", "user": "U1"}, None),
        ({"type": "message", "channel": "C1", "ts": "1.0", "thread_ts": "1.0", "text": "the parent", "user": "U1"}, None),
        ({"type": "message", "channel": "C1", "ts": "2.0", "thread_ts": "1.0", "text": "ours", "bot_id": "B1"}, None),
        ({"type": "message", "subtype": "message_changed", "channel": "C1", "ts": "2.0", "thread_ts": "1.0", "text": "x"}, None),
        ({"type": "app_mention", "channel": "C1", "ts": "2.0", "thread_ts": "1.0", "text": "<@U0BOT>", "user": "U1"}, None),
        ({"type": "reaction_added", "channel": "C1", "ts": "2.0", "thread_ts": "1.0"}, None),
    ],
    ids=["reply", "mention-in-thread", "top-level", "parent", "bot", "edit", "empty-mention", "reaction"],
)
def test_what_counts_as_a_question(event, expected):
    question = question_of({"event": event, "event_id": "Ev1"})
    assert (question.text if question else None) == expected
    if question:
        # An @mention in a thread also arrives as a message event: one key for both.
        assert question.key == "question/C1/2.0"


def test_a_thread_that_is_not_a_report_message_is_ignored(delivered, instance):
    from report_pipelines.service.questions import ask as ask_question

    store, slack, post = delivered
    assert ask_question(post["channel"], "1111.2222", "hello?", "k", user="U1", instance=instance,
                        without_webserver=True) is None
    assert replies(slack, post) == [] and json.dumps(slack.posts).count("hello?") == 0


def test_a_question_through_socket_mode_is_answered_in_the_thread(delivered, home, tmp_path):
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from report_pipelines_tests.fakes.socket_mode import FakeSocketMode

    store, slack, post = delivered
    shutil.copy(Path(__file__).parents[1] / "workspace.yaml", home / "workspace.yaml")
    app_token = "xapp-1-A0REPORTS-2-questions"
    slack.add_token(app_token, "T0001")
    with FakeSocketMode() as socket:
        slack.socket_mode_url = socket.url
        env = {**os.environ, "SLACK_APP_TOKEN": app_token, "DAGSTER_WEBSERVER_URL": "http://127.0.0.1:9"}
        log = tmp_path / "listen.log"
        listener = subprocess.Popen([str(Path(sys.executable).parent / "report-pipelines"), "slack-listen"], env=env,
                                    stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        try:
            socket.wait_connected(60)
            event = {"type": "message", "channel": post["channel"], "user": "U0BOB", "ts": "1764000009.000100",
                     "thread_ts": post["ts"], "text": "What was the revenue?"}
            socket.push("events_api", {"event_id": "Ev0Q1", "event": event})
            socket.push("events_api", {"event_id": "Ev0Q1", "event": event})  # redelivered
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and not replies(slack, post):
                time.sleep(0.5)
            (reply,) = replies(slack, post) or [None]
            assert reply is not None, log.read_text()[-3000:]
            assert f"revenue totalled {format_number(revenue(home))}" in reply["text"]
            time.sleep(2)
            assert len(replies(slack, post)) == 1
        finally:
            listener.send_signal(signal.SIGINT)
            listener.wait(timeout=60)
