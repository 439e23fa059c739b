"""One Slack message per (report, window, destination), whatever Dagster repeats."""

from __future__ import annotations

import json

import dagster as dg
import pytest
from dagster._core.definitions.reconstruct import ReconstructableRepository

from report_pipelines.report_files import load_report_text
from report_pipelines.store import DeliveryKey, DeliveryLedger, ReportStore, WorkspaceStore
from report_pipelines.store.deliveries import Sent
from report_pipelines.resources import SlackResource
from report_pipelines.slack.delivery import clear_channel_cache
from report_pipelines_tests.conftest import REPORTS
from report_pipelines_tests.fakes.slack_api import FakeSlack

TOKEN = "xoxb-3333-once-token"
KEY = "2026-11-25-09:00"
ROOT = str(REPORTS.parents[1])


@pytest.fixture
def slack(home, secret_key, monkeypatch):
    clear_channel_cache()
    with FakeSlack(tokens={TOKEN: "T0001"}) as fake:
        monkeypatch.setenv("SLACK_API_URL", fake.url)
        store = ReportStore()
        store.add(load_report_text((REPORTS / "valid.yaml").read_text()))
        WorkspaceStore().add("T0001", "Acme", TOKEN)
        yield fake


def report_job():
    """The job as the code location serves it (definitions loaded from the store)."""
    repo = ReconstructableRepository.for_module(
        "report_pipelines.definitions", "defs", working_directory=ROOT
    )
    return repo.get_reconstructable_job("report_regional_revenue")


def launch(instance, **kwargs):
    tags = {"dagster/partition": KEY, **kwargs.pop("tags", {})}
    return dg.execute_job(report_job(), instance=instance, tags=tags, **kwargs)


def fail_after_delivery(monkeypatch, times=1, exc=ConnectionResetError("worker lost")):
    """The message is posted and recorded, then the step dies before it finishes."""
    real = SlackResource.deliver
    left = {"n": times}

    def deliver(self, *args, **kwargs):
        result = real(self, *args, **kwargs)
        if left["n"] > 0:
            left["n"] -= 1
            raise exc
        return result

    monkeypatch.setattr(SlackResource, "deliver", deliver)


def test_second_launch_of_the_same_window_posts_nothing(slack, instance):
    first = launch(instance)
    second = launch(instance)
    assert first.success and second.success
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert instance.get_run_by_id(second.run_id).tags["report_pipelines/delivery"] == "already_delivered"


def test_op_retry_after_posting_does_not_post_again(slack, instance, monkeypatch):
    fail_after_delivery(monkeypatch)
    result = launch(instance)
    assert result.success
    retries = [e for e in instance.all_logs(result.run_id) if e.dagster_event and
               e.dagster_event.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert len(retries) == 1
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_reexecution_from_failure_posts_once(slack, instance):
    slack.fail_next("chat.postMessage", error="channel_not_found", status=200)
    failed = launch(instance)
    assert not failed.success and slack.posts == []
    # The UI copies the parent's tags (its partition among them) into a re-execution.
    parent_tags = {"dagster/partition": KEY}
    again = dg.execute_job(
        report_job(), instance=instance, tags=parent_tags,
        reexecution_options=dg.ReexecutionOptions.from_failure(failed.run_id, instance),
    )
    assert again.success
    # Only the failed step ran again: the earlier steps' encrypted results were reused.
    steps = {e.step_key for e in again.all_events if e.event_type == dg.DagsterEventType.STEP_SUCCESS}
    assert steps == {"post_to_slack"}
    assert len(slack.posts) == 1
    third = dg.execute_job(
        report_job(), instance=instance, tags=parent_tags,
        reexecution_options=dg.ReexecutionOptions(parent_run_id=failed.run_id),
    )
    assert third.success and len(slack.posts) == 1


def test_run_retry_after_a_posted_message_posts_nothing(slack, instance, monkeypatch):
    # The worker dies after posting and the op gives up; the run fails.
    from dagster import Failure

    fail_after_delivery(monkeypatch, times=1, exc=Failure("worker lost", allow_retries=False))
    failed = launch(instance)
    assert not failed.success and len(slack.posts) == 1
    # A run retry is a new run of every step with the failed run as parent.
    retry = dg.execute_job(
        report_job(), instance=instance,
        reexecution_options=dg.ReexecutionOptions(parent_run_id=failed.run_id),
        tags={"dagster/partition": KEY, "dagster/retry_number": "1"},
    )
    assert retry.success
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_unconfirmed_post_fails_loudly_and_force_recovers(slack, instance):
    store = ReportStore()
    report = store.get("regional_revenue")
    ledger = DeliveryLedger()
    key = DeliveryKey(report.id, KEY, "T0001/channel/C0SALES")
    # A run that claimed the window and died before Slack answered.
    assert ledger._claim(key, "crashed-run")
    result = launch(instance)
    assert not result.success and slack.posts == []
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "never confirmed" in failure.step_failure_data.user_failure_data.description
    forced = launch(instance, tags={"report_pipelines/force": "true"})
    assert forced.success and len(slack.posts) == 1
    assert ledger.get(key).status == "posted"


def test_forced_rerun_updates_the_message_in_place(slack, instance):
    assert launch(instance).success
    forced = launch(instance, tags={"report_pipelines/force": "true"})
    assert forced.success
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert len(slack.calls_to("chat.update")) == 1
    assert instance.get_run_by_id(forced.run_id).tags["report_pipelines/delivery"] == "updated"


def test_results_on_disk_are_encrypted(slack, instance, home):
    result = launch(instance)
    stored = list((home / "storage" / result.run_id / "report_results").glob("*.bin"))
    assert {p.name.split("__")[0] for p in stored} == {
        "query_warehouse", "analyze_results", "format_slack_message",
    }
    for path in stored:
        data = path.read_bytes()
        assert b"North" not in data and b"revenue" not in data and b"Regional" not in data


def respelled(channel: str, **extra: str) -> str:
    text = (REPORTS / "valid.yaml").read_text().replace('slack_channel: "#sales"', f'slack_channel: "{channel}"')
    for old, new in extra.items():
        text = text.replace(old, new)
    return text


@pytest.mark.parametrize("spelling", ["C0SALES", "#Sales", "sales"])
def test_respelling_the_destination_never_posts_a_window_twice(slack, instance, spelling):
    assert launch(instance).success
    ReportStore().update("regional_revenue", load_report_text(respelled(spelling)))
    again = launch(instance)
    assert again.success
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert instance.get_run_by_id(again.run_id).tags["report_pipelines/delivery"] == "already_delivered"
    report = ReportStore().get("regional_revenue")
    assert [entry.destination for entry in DeliveryLedger().for_window(report.id, KEY)] == ["T0001/channel/C0SALES"]


def test_a_window_recorded_by_an_earlier_release_is_not_posted_again(slack, instance):
    # Earlier releases keyed the ledger on the destination as configured.
    report = ReportStore().get("regional_revenue")
    ledger = DeliveryLedger()
    legacy = DeliveryKey(report.id, KEY, "T0001/channel/#sales")
    assert ledger._claim(legacy, "old-run")
    ledger._complete(legacy, "old-run", Sent("C0SALES", "1700000000.000100"))
    ReportStore().update("regional_revenue", load_report_text(respelled("C0SALES")))
    result = launch(instance)
    assert result.success and slack.posts == []
    assert ledger.get(legacy) is None
    assert ledger.get(DeliveryKey(report.id, KEY, "T0001/channel/C0SALES")).ts == "1700000000.000100"


def test_a_retry_after_a_failed_thread_extra_posts_only_the_missing_ones(slack, instance, monkeypatch):
    from report_pipelines.slack.delivery import SlackDelivery, SlackDeliveryError

    with_extras = respelled("#sales", **{"analysis: {mode: quick, audience: analyst}": (
        "analysis: {mode: quick, audience: analyst}\nattachments: {chart: true, csv: true}")})
    ReportStore().update("regional_revenue", load_report_text(with_extras))
    # The chart goes into the thread, then the CSV upload fails once: the op retry that follows
    # must post the CSV and nothing else.
    real_upload = SlackDelivery.upload_file
    failures = {"csv": 1}

    def upload_file(self, channel_id, filename, *args, **kwargs):
        if filename.endswith(".csv") and failures["csv"]:
            failures["csv"] -= 1
            raise SlackDeliveryError("internal_error", "Slack answered 500 to files.getUploadURLExternal")
        return real_upload(self, channel_id, filename, *args, **kwargs)

    monkeypatch.setattr(SlackDelivery, "upload_file", upload_file)
    result = launch(instance)
    assert result.success and failures["csv"] == 0
    retries = [e for e in instance.all_logs(result.run_id) if e.dagster_event and
               e.dagster_event.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert len(retries) == 1
    assert len([post for post in slack.posts if not post["thread_ts"]]) == 1
    kinds = sorted(item["filename"].rsplit(".", 1)[1] for item in slack.files)
    assert kinds == ["csv", "png"]
    report = ReportStore().get("regional_revenue")
    entry = DeliveryLedger().get(DeliveryKey(report.id, KEY, "T0001/channel/C0SALES"))
    assert entry.extras_done and len(entry.extras_posted) == 2


def test_deliveries_list_and_resolve_settle_an_in_doubt_claim(slack, instance):
    from click.testing import CliRunner

    from report_pipelines.cli import main

    report = ReportStore().get("regional_revenue")
    ledger = DeliveryLedger()
    key = DeliveryKey(report.id, KEY, "T0001/channel/C0SALES")
    assert ledger._claim(key, "crashed-run")
    listed = CliRunner().invoke(main, ["deliveries", "list", "--json"])
    assert listed.exit_code == 0
    assert json.loads(listed.output) == {
        "report": "regional_revenue", "window": KEY, "destination": "T0001/channel/C0SALES",
        "run_id": "crashed-run", "since": json.loads(listed.output)["since"],
    }
    # Nothing was in the channel: --retry drops the claim and the next run posts.
    retried = CliRunner().invoke(main, ["deliveries", "resolve", "regional_revenue", "--partition", KEY, "--retry"])
    assert retried.exit_code == 0, retried.output
    assert ledger.get(key) is None
    assert launch(instance).success and len(slack.posts) == 1
    # A second in-doubt claim (another window) whose message is in Slack: --delivered.
    other = DeliveryKey(report.id, "2026-11-24-09:00", "T0001/channel/C0SALES")
    assert ledger._claim(other, "crashed-run")
    marked = CliRunner().invoke(main, ["deliveries", "resolve", "regional_revenue", "--partition",
                                       "2026-11-24-09:00", "--delivered", "--ts", "1700000000.000900"])
    assert marked.exit_code == 0, marked.output
    assert ledger.get(other).posted and ledger.get(other).ts == "1700000000.000900"
    again = dg.execute_job(report_job(), instance=instance, tags={"dagster/partition": "2026-11-24-09:00"})
    assert again.success and len(slack.posts) == 1
    empty = CliRunner().invoke(main, ["deliveries", "list"])
    assert "no deliveries in doubt" in empty.output
    # Nothing left to resolve: a clear refusal, exit 2.
    nothing = CliRunner().invoke(main, ["deliveries", "resolve", "regional_revenue", "--partition", KEY, "--retry"])
    assert nothing.exit_code == 2 and "no delivery in doubt" in nothing.output
