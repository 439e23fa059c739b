"""Destinations beyond Slack, driven for real: a local HTTP receiver that checks the webhook
signature, a Teams-shaped receiver, and an SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import email
import hashlib
import hmac
import json
import threading
from decimal import Decimal
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import duckdb
import pandas as pd
import pytest
from aiosmtpd.controller import Controller

from report_pipelines.definitions import build_repository
from report_pipelines.destinations import teams, webhook
from report_pipelines.destinations.payload import ReportContent
from report_pipelines.models import ReportSpec
from report_pipelines.report_files import load_report_text
from report_pipelines.store import ReportStore
from report_pipelines_tests.conftest import REPORTS
from report_pipelines_tests.test_statistical import WINDOW

SECRET = "whsec-7f3a9c0d1e2b4a5c"
KEYS = ("2026-11-24-09:00", "2026-11-25-09:00")


class Receiver:
    """Records POSTs; ``fail`` queues status codes to answer before accepting."""

    def __init__(self):
        self.requests: list[dict] = []
        self.fail: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = receiver.fail.pop(0) if receiver.fail else 200
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


class Mailbox:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


@pytest.fixture
def mailbox(monkeypatch):
    import socket

    box = Mailbox()
    with socket.socket() as probe:  # a free port: the controller checks its own server on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setenv("SMTP_FROM", "reports@example.com")
    yield box
    controller.stop()


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setattr(webhook, "BACKOFF_SECONDS", 0.01)


def report_with(**fields) -> ReportSpec:
    spec = load_report_text((REPORTS / "valid.yaml").read_text())
    return ReportSpec.model_validate({**spec.model_dump(), "slack_config": {"notification_type": "none"}, **fields})


def run(instance, key: str, raise_on_error: bool = True):
    job = build_repository(ReportStore().job_shaping_rows()).get_job("report_regional_revenue")
    return job.execute_in_process(instance=instance, partition_key=key, raise_on_error=raise_on_error)


def day_total(home, day: str) -> Decimal:
    with duckdb.connect(str(home / "demo_warehouse.duckdb"), read_only=True) as conn:
        return conn.execute("SELECT SUM(revenue) FROM sales WHERE order_date = ?", [day]).fetchone()[0]


def test_a_webhook_and_an_email_get_one_signed_post_and_one_mail_per_window(
    home, instance, receiver, mailbox, monkeypatch
):
    monkeypatch.setenv("REPORT_WEBHOOK_SECRET", SECRET)
    ReportStore().add(report_with(destinations=[
        {"type": "webhook", "url": f"{receiver.url}/hooks/reports?token=abc", "secret_env": "REPORT_WEBHOOK_SECRET"},
        {"type": "email", "to": ["leads@example.com", "cfo@example.com"]},
    ]))
    result = run(instance, KEYS[1])
    assert result.success

    (post,) = receiver.requests
    expected = "sha256=" + hmac.new(SECRET.encode(), post["body"], hashlib.sha256).hexdigest()
    assert post["headers"]["X-Report-Signature"] == expected
    body = json.loads(post["body"])
    assert body["report"]["slug"] == "regional_revenue" and body["window"]["partition_key"] == KEYS[1]
    revenue = next(c for c in body["metrics"]["columns"] if c["column"] == "revenue")
    assert Decimal(revenue["total"]) == day_total(home, "2026-11-25")
    assert body["analysis"]["summary"] and body["run_url"].endswith(f"/runs/{result.run_id}")

    (mail,) = mailbox.messages
    assert mailbox.envelopes[0] == ("reports@example.com", ["leads@example.com", "cfo@example.com"])
    assert "Regional Revenue" in mail["Subject"]
    plain = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "revenue total" in plain and "<table" in html
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_filename() == "regional_revenue_2026-11-25-09-00.csv"
    assert attachment.get_content().splitlines()[0].startswith("region,units,revenue")

    # The same window again (a retry, a second launch): nothing sent twice.
    assert run(instance, KEYS[1]).success
    assert len(receiver.requests) == 1 and len(mailbox.messages) == 1
    # A backfill of two windows: one POST and one mail for the window not yet sent.
    for key in KEYS:
        assert run(instance, key).success
    assert len(receiver.requests) == 2 and len(mailbox.messages) == 2
    # Neither the webhook secret nor the URL's token is in what the runs recorded.
    recorded = json.dumps([str(record) for run_ in instance.get_runs() for record in instance.all_logs(run_.run_id)])
    assert SECRET not in recorded and "token=abc" not in recorded


def test_webhooks_retry_5xx_and_429_but_never_4xx(home, instance, receiver, fast_retries, monkeypatch):
    ReportStore().add(report_with(destinations=[{"type": "webhook", "url": f"{receiver.url}/hook"}]))
    receiver.fail = [503, 429, 502]
    assert run(instance, KEYS[0]).success
    assert len(receiver.requests) == 4
    assert len({r["headers"]["X-Report-Delivery"] for r in receiver.requests}) == 1

    receiver.requests.clear()
    receiver.fail = [400]
    failed = run(instance, KEYS[1], raise_on_error=False)
    assert not failed.success and len(receiver.requests) == 1
    failure = next(e for e in failed.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    description = failure.event_specific_data.user_failure_data.description
    assert "webhook 127.0.0.1: the webhook answered HTTP 400" in description and "not retried" in description
    # Nothing was recorded as delivered: fixing the receiver and running again sends it.
    assert run(instance, KEYS[1]).success and len(receiver.requests) == 2


def test_teams_gets_an_adaptive_card_within_its_size_limit(home, instance, receiver):
    ReportStore().add(report_with(destinations=[{"type": "teams", "url": f"{receiver.url}/workflows/abc?sig=s3cr3t"}]))
    assert run(instance, KEYS[1]).success
    (post,) = receiver.requests
    message = json.loads(post["body"])
    (attachment,) = message["attachments"]
    assert message["type"] == "message" and attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    kinds = [block["type"] for block in card["body"]]
    assert card["type"] == "AdaptiveCard" and {"FactSet", "Table"} <= set(kinds)
    assert card["body"][0]["text"] == "📊 Regional Revenue"
    assert card["actions"][0]["type"] == "Action.OpenUrl" and "/runs/" in card["actions"][0]["url"]


def test_a_huge_result_still_fits_a_teams_message():
    from report_pipelines.analysts.statistical import analyze

    frame = pd.DataFrame({f"column_{i}": ["x" * 500] * 5_000 for i in range(10)} | {"amount": range(5_000)})
    analysis = analyze(frame, window=WINDOW, period="week", audience="analyst")
    analysis.insights = ["y" * 3000] * 10
    content = ReportContent(report=_Named(), window=WINDOW, analysis=analysis, frame=frame,
                            run_url="http://dagster/runs/1", csv=b"")
    body = teams.message(content)
    assert len(body) <= teams.MAX_MESSAGE_BYTES and json.loads(body)["attachments"][0]["content"]["body"]


class _Named:
    """The card reads only the report's name."""

    id, name, slug = 1, "Huge", "huge"
