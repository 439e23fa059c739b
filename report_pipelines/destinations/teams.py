"""Microsoft Teams through a Workflows webhook ("When a Teams webhook request is received"):
the report as an Adaptive Card (header, summary, key metrics, table, link), kept inside Teams'
28 KB message limit by showing fewer table rows, then clipping texts."""

from __future__ import annotations

import json
from typing import Any

from report_pipelines.destinations.payload import ReportContent, cell_text
from report_pipelines.destinations.webhook import post_json
from report_pipelines.formatting import clip

MAX_MESSAGE_BYTES = 28 * 1024
# Room for what Teams adds around the card.
BUDGET_BYTES = MAX_MESSAGE_BYTES - 2 * 1024
MAX_TABLE_ROWS = 20
MAX_TABLE_COLUMNS = 8
MAX_TEXT_CHARS = 2000
MAX_CELL_CHARS = 60
MAX_FACTS = 12


def card(content: ReportContent, *, rows: int = MAX_TABLE_ROWS, text_chars: int = MAX_TEXT_CHARS) -> dict[str, Any]:
    analysis = content.analysis
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": clip(f"📊 {content.report.name}", 150), "weight": "Bolder", "size": "Large", "wrap": True},
        {"type": "TextBlock", "text": content.window.describe(), "isSubtle": True, "spacing": "None", "wrap": True},
    ]
    if analysis.summary:
        body.append({"type": "TextBlock", "text": clip(analysis.summary, text_chars), "wrap": True})
    facts = [{"title": title, "value": value} for title, value in content.metric_facts()[:MAX_FACTS]]
    body.append({"type": "FactSet", "facts": facts})
    for line in content.signal_lines()[:12]:
        body.append({"type": "TextBlock", "text": clip(line, 300), "wrap": True, "spacing": "Small"})
    frame = content.frame.iloc[:rows, :MAX_TABLE_COLUMNS]
    if rows and len(frame.columns):
        header = {"type": "TableRow", "style": "accent", "cells": [_cell(str(name), bold=True) for name in frame.columns]}
        table_rows = [header] + [
            {"type": "TableRow", "cells": [_cell(cell_text(value)) for value in record]}
            for record in frame.itertuples(index=False)
        ]
        body.append({"type": "Table", "columns": [{"width": 1} for _ in frame.columns], "rows": table_rows,
                     "firstRowAsHeader": True})
        if len(content.frame) > rows:
            body.append({"type": "TextBlock", "text": f"First {rows} of {len(content.frame):,} rows", "isSubtle": True})
    for title, items in (("Insights", analysis.insights), ("Recommendations", analysis.recommendations)):
        if items:
            text = "\n".join(f"- {clip(item, 400)}" for item in items)
            body.append({"type": "TextBlock", "text": f"**{title}**\n{clip(text, text_chars)}", "wrap": True})
    return {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.5",
        "body": body, "actions": [{"type": "Action.OpenUrl", "title": "Open in Dagster", "url": content.run_url}],
    }  # fmt: skip


def message(content: ReportContent) -> bytes:
    """The Workflows message, within the size budget whatever the data."""
    for rows in (MAX_TABLE_ROWS, 10, 5, 0):
        for text_chars in (MAX_TEXT_CHARS, 500):
            body = json.dumps({"type": "message", "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
                "content": card(content, rows=rows, text_chars=text_chars)}]}, ensure_ascii=False).encode()
            if len(body) <= BUDGET_BYTES:
                return body
    raise ValueError("the Teams card does not fit in 26 KB even without its table")


def send(url: str, content: ReportContent, delivery_id: str) -> str:
    body = message(content)
    post_json(url, body, {"X-Report-Delivery": delivery_id}, what="the Teams webhook")
    return f"card of {len(body):,} bytes posted"


def _cell(text: str, bold: bool = False) -> dict[str, Any]:
    block = {"type": "TextBlock", "text": clip(text, MAX_CELL_CHARS), "wrap": True}
    if bold:
        block["weight"] = "Bolder"
    return {"type": "TableCell", "items": [block]}
