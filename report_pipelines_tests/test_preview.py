"""`report-pipelines preview`: the same path a run takes, without sending anything."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from report_pipelines.cli import main
from report_pipelines.slack.blocks import validate_message
from report_pipelines_tests.conftest import REPORTS
from report_pipelines_tests.fakes.gemini_api import FakeGemini, analysis_reply, function_call_reply, text_reply

VALID = yaml.safe_load((REPORTS / "valid.yaml").read_text())
WINDOW = "2026-11-25-09:00"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def cli(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def add(tmp_path: Path, **changes) -> str:
    path = tmp_path / "report.yaml"
    path.write_text(yaml.safe_dump({**VALID, **changes}))
    result = cli("reports", "add", str(path))
    assert result.exit_code == 0, result.output
    return result.output.strip()


def preview_json(slug: str) -> dict:
    result = cli("preview", slug, "--partition", WINDOW, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_preview_writes_the_message_chart_and_csv_beside_it(home, tmp_path):
    slug = add(tmp_path, attachments={"chart": True, "csv": True})
    payload = preview_json(slug)
    assert validate_message(payload["blocks"], payload["text"]) == []
    assert payload["send"] is True

    folder = home / "previews" / slug
    message = json.loads((folder / "2026-11-25-09-00.json").read_text())
    assert message["blocks"] == payload["blocks"]
    png, csv = (Path(p) for p in payload["files"])
    assert png.parent == csv.parent == folder
    assert png.read_bytes().startswith(PNG_MAGIC)
    # The CSV holds the window's rows, exactly what the query returned.
    rows = pd.read_csv(csv)
    assert list(rows.columns) == ["region", "units", "revenue"] and len(rows) == 4
    assert message["attachments"] == [png.name, csv.name]

    text = cli("preview", slug, "--partition", WINDOW).output
    assert f"written: {png}" in text and f"written: {csv}" in text


def test_preview_says_when_send_if_would_skip_and_why(home, tmp_path):
    slug = add(tmp_path, send_if={"metric": "revenue", "stat": "total", "op": ">", "value": 10**12})
    payload = preview_json(slug)
    assert payload["send"] is False
    assert "revenue" in payload["send_if"] and "nothing sent" in payload["send_if"]
    text = cli("preview", slug, "--partition", WINDOW).output
    assert "would NOT be sent: total of revenue" in text

    broken = add(tmp_path, name="Wrong Metric", send_if={"metric": "nope", "op": ">", "value": 1})
    result = CliRunner().invoke(main, ["preview", broken, "--partition", WINDOW])
    assert result.exit_code == 1 and "send_if.metric 'nope' is not a numeric column" in result.output


def test_preview_of_a_prompt_only_report_runs_geminis_sql(home, tmp_path, monkeypatch):
    prompt = "Which region sold the most units in the window?"
    with FakeGemini() as gemini:
        monkeypatch.setenv("GOOGLE_API_KEY", gemini.api_key)
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", gemini.url)
        slug = add(tmp_path, query=prompt, analysis={"mode": "deep", "audience": "analyst"})
        sql = ("SELECT region, SUM(units) AS units FROM sales WHERE order_date >= @window_start_date "
               "AND order_date < @window_end_date GROUP BY region ORDER BY units DESC")
        gemini.reply(function_call_reply(("run_sql", {"sql": sql})), text_reply("done"),
                     analysis_reply(summary="North sold most."))
        payload = preview_json(slug)
    assert payload["send"] is True
    assert "North sold most." in json.dumps(payload["blocks"])
    # The SQL the model ran goes into the thread, as it would under a posted message.
    assert payload["thread"] and "SELECT region, SUM(units)" in payload["thread"][0]


def test_preview_of_a_prompt_only_report_without_gemini_says_what_to_set(home, tmp_path, monkeypatch):
    with FakeGemini() as gemini:
        monkeypatch.setenv("GOOGLE_API_KEY", gemini.api_key)
        slug = add(tmp_path, query="Which region sold most?", analysis={"mode": "deep", "audience": "analyst"})
    monkeypatch.delenv("GOOGLE_API_KEY")
    result = CliRunner().invoke(main, ["preview", slug, "--partition", WINDOW])
    assert result.exit_code == 1 and "set GOOGLE_API_KEY" in result.output


@pytest.mark.parametrize("partition,phrase", [("2026-11-25", "%Y-%m-%d-%H:%M"), ("2020-01-01-09:00", "not a window")])
def test_preview_checks_the_window(home, tmp_path, partition, phrase):
    slug = add(tmp_path)
    result = CliRunner().invoke(main, ["preview", slug, "--partition", partition])
    assert result.exit_code == 2 and phrase in result.output
