"""The run-metadata preview: Slack mrkdwn shown as the Markdown Dagster renders."""

from __future__ import annotations

import pytest

from report_pipelines.slack.markdown import blocks_to_markdown, mrkdwn_to_markdown


@pytest.mark.parametrize(
    ("mrkdwn", "markdown"),
    [
        ("*Summary*", "**Summary**"),
        ("_quiet_ and *loud*", "*quiet* and **loud**"),
        ("~gone~", "~~gone~~"),
        ("<https://dagster.example/runs/1|View run in Dagster>", "[View run in Dagster](https://dagster.example/runs/1)"),
        ("<https://example.com>", "<https://example.com>"),
        ("*Rows*\n4", "**Rows**  \n4"),
        ("order_id and snake_case_names", "order_id and snake_case_names"),
        ("2 * 3 * 4", "2 * 3 * 4"),
        ("&lt;!channel&gt; &amp; co", "&lt;!channel&gt; &amp; co"),
        ("# not a heading\n- not a list", "\\# not a heading  \n\\- not a list"),
        ("```\nregion  *units*\nNorth   3\n```", "```\nregion  *units*\nNorth   3\n```"),
    ],
)
def test_mrkdwn_becomes_markdown(mrkdwn, markdown):
    assert mrkdwn_to_markdown(mrkdwn) == markdown


def test_a_report_message_reads_as_markdown():
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "📊 Daily Sales"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Summary*\nRevenue rose."}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Key Metrics*"},
         "fields": [{"type": "mrkdwn", "text": "*Rows*\n4"}, {"type": "mrkdwn", "text": "*revenue*\nTotal: 10"}]},
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "Generated 09:00"},
                                         {"type": "mrkdwn", "text": "<http://x/runs/1|View run in Dagster>"}]},
    ]
    assert blocks_to_markdown(blocks) == (
        "## 📊 Daily Sales\n\n**Summary**  \nRevenue rose.\n\n**Key Metrics**\n\n**Rows**  \n4\n\n"
        "**revenue**  \nTotal: 10\n\n---\n\nGenerated 09:00 · [View run in Dagster](http://x/runs/1)\n"
    )
