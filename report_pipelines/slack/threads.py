"""Thread replies under a posted report: long texts, the chart PNG and the full CSV.

No Dagster import: the delivery resource calls :func:`post_thread_extras` after the main message
is posted and turns the returned records into run metadata.

    posted = delivery.post_message(channel_id, blocks, text)
    records = post_thread_extras(
        delivery, channel_id, posted.ts, report_name="Weekly Sales",
        texts=sql_thread_text([sql]), files=[Attachment("csv", "weekly.csv", data, "Weekly data")],
    )
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from report_pipelines.formatting import ELLIPSIS, escape
from report_pipelines.slack.blocks import validate_message
from report_pipelines.slack.delivery import SlackDelivery, SlackDeliveryError

EARLIER = "posted by an earlier attempt"
# The notification preview of a thread reply; the section holds the full text.
MAX_SUMMARY_CHARS = 150
_MRKDWN_MARKS = str.maketrans("", "", "*_~`")


@dataclass(frozen=True)
class Attachment:
    """A file for a message's thread: the chart PNG or the full CSV."""

    kind: str
    filename: str
    content: bytes
    title: str


def post_thread_extras(
    client: SlackDelivery,
    channel_id: str,
    thread_ts: str,
    *,
    report_name: str,
    texts: Sequence[str],
    files: Sequence[Attachment],
    done: Collection[str] = (),
    on_posted: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Post ``texts``, then ``files``, into the thread of ``thread_ts``.

    The main report message is already in the channel when this runs, so a failure here cannot
    take it back: every reply is rendered and checked before the first one is posted, and a Slack
    failure raises :class:`SlackDeliveryError` naming the extra that failed and what was already
    posted in the thread. The caller decides whether that fails the run.

    Each ``texts`` item is escaped mrkdwn of at most 3,000 characters (as made by
    :func:`~report_pipelines.slack.attachments.sql_thread_text` and
    :func:`~report_pipelines.slack.attachments.thread_messages_for_overflow`); a ``ValueError``
    is raised before anything is posted when one is not.

    Each extra has a name (:func:`extra_names`): those in ``done`` were posted by an earlier
    attempt and are skipped, and ``on_posted`` is called with each name the moment its reply is
    in the thread, so a retry after a failure posts only the missing ones.

    Returns one record per extra for run metadata: ``kind`` ("text", "chart" or "csv"), the reply
    ``ts`` or the ``file_id`` and ``filename``, and ``bytes``; a skipped one has ``"skipped":
    "posted by an earlier attempt"``.
    """
    replies = [_text_reply(text, report_name) for text in texts]
    names = extra_names(len(texts), files)
    records: list[dict[str, Any]] = []
    posted: list[str] = []
    for number, (blocks, summary) in enumerate(replies, start=1):
        label = f"thread text {number} of {len(replies)}"
        if names[number - 1] in done:
            records.append({"kind": "text", "skipped": EARLIER})
            posted.append(label)
            continue
        with _naming(label, thread_ts, posted):
            reply = client.post_message(channel_id, blocks, summary, thread_ts=thread_ts)
        record: dict[str, Any] = {
            "kind": "text",
            "ts": reply.ts,
            "bytes": len(blocks[0]["text"]["text"].encode("utf-8")),
        }
        if reply.warnings:
            record["warnings"] = reply.warnings
        records.append(record)
        posted.append(label)
        if on_posted is not None:
            on_posted(names[number - 1])
    for item, name in zip(files, names[len(texts):]):
        if name in done:
            records.append({"kind": item.kind, "filename": item.filename, "skipped": EARLIER})
            posted.append(name)
            continue
        with _naming(name, thread_ts, posted):
            file_id = client.upload_file(
                channel_id, item.filename, item.content, thread_ts=thread_ts, title=item.title
            )
        records.append(
            {"kind": item.kind, "file_id": file_id, "filename": item.filename, "bytes": len(item.content)}
        )
        posted.append(name)
        if on_posted is not None:
            on_posted(name)
    return records


def extra_names(text_count: int, files: Sequence[Attachment]) -> list[str]:
    """The names the delivery ledger records thread extras under: ``text 1`` ... then
    ``<kind> <filename>`` for each file."""
    return [f"text {number}" for number in range(1, text_count + 1)] + [
        f"{item.kind} {item.filename}" for item in files
    ]


def _text_reply(text: str, report_name: str) -> tuple[list[dict[str, Any]], str]:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    summary = _summary(text, report_name)
    problems = validate_message(blocks, summary)
    if problems:
        raise ValueError(f"thread reply is not a valid Slack message: {'; '.join(problems)}")
    return blocks, summary


def _summary(text: str, report_name: str) -> str:
    """``<report name>: <first line>`` without mrkdwn marks, for notifications and previews."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    first = " ".join(first.translate(_MRKDWN_MARKS).split())
    # The reply text is escaped already; the name is not, and `text` turns <!channel> into pings.
    summary = f"{escape(' '.join(report_name.split()))}: {first}".strip(" :")
    if len(summary) > MAX_SUMMARY_CHARS:
        cut = summary[: MAX_SUMMARY_CHARS - len(ELLIPSIS)]
        # Never end on half an entity such as "&am".
        amp = cut.rfind("&")
        if amp != -1 and ";" not in cut[amp:]:
            cut = cut[:amp]
        summary = cut.rstrip() + ELLIPSIS
    return summary or "Report details"


@contextmanager
def _naming(label: str, thread_ts: str, posted: list[str]) -> Iterator[None]:
    """Re-raise a Slack failure naming the extra it hit and what the thread already holds."""
    try:
        yield
    except SlackDeliveryError as err:
        already = ", ".join(posted) if posted else "nothing else"
        raise SlackDeliveryError(
            err.code,
            f"posting the {label} into the thread of {thread_ts} failed: {err}. "
            f"The main report message is already posted; in its thread so far: {already}",
            method=err.method,
            status=err.status,
            errors=err.errors,
        ) from err
