"""What goes into a report message's thread besides the chart: the full CSV, and long texts.

Everything here is pure (no Dagster, no network): :mod:`report_pipelines.slack.threads` posts
the results. The texts are Slack mrkdwn, escaped with :func:`~report_pipelines.formatting.escape`
and cut to the section limit without losing a character, so a long SQL statement or a long list
of insights arrives whole, spread over as many thread replies as it needs. The chart PNG is
drawn by :mod:`report_pipelines.slack.chart`.

    data = csv_bytes(frame)
    replies = sql_thread_text([sql])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from report_pipelines.formatting import ELLIPSIS, column_name, escape, shorten
from report_pipelines.slack.blocks import MAX_SECTION_CHARS

# OWASP's list of characters that make Excel, LibreOffice and Google Sheets read a cell as a
# formula (a tab or CR can precede one).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# Slack would end a code block at any ``` inside it, so backticks in SQL are shown as a look-alike
# (U+02CB). Copying the SQL back out then fails loudly at the warehouse rather than quietly
# running different SQL, which replacing them with quotes (as the table cells do) would risk.
BACKTICK_STAND_IN = "\u02cb"
CODE_OPEN = "```\n"
CODE_CLOSE = "\n```"
# An item cut across messages ends and resumes with this, so readers see it continues.
CONTINUED = ELLIPSIS
BULLET = "• "
MAX_THREAD_TITLE_CHARS = 150


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The whole result as UTF-8 CSV (CRLF line ends) with a header row and no index.

    Text that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a
    tab or CR) gets a leading ``'``, in cells and in column names alike. Numbers are never
    touched, so ``-5`` in a numeric column stays a number.
    """
    safe = frame.copy(deep=False)
    safe.columns = [_guard(column_name(label)) for label in frame.columns]
    # By position: column names may repeat, and safe[name] would then be a frame.
    for index in range(safe.shape[1]):
        column = safe.iloc[:, index]
        if _may_hold_text(column.dtype):
            guarded = [_guard(value) for value in column.to_numpy(dtype=object)]
            safe.isetitem(index, pd.Series(guarded, index=safe.index, dtype=object))
    # CRLF as RFC 4180 has it, and not only for Excel: Python's csv module quotes a field only for
    # characters in the line terminator, so with "\n" alone a lone CR in a value would go out
    # unquoted and split the row for every reader.
    text = safe.to_csv(index=False, lineterminator="\r\n")
    # Lone surrogates (badly decoded source data) cannot be encoded; they become "?".
    return text.encode("utf-8", "replace")


def sql_thread_text(sql_runs: Sequence[str]) -> list[str]:
    """The SQL a prompt-only report ran, as mrkdwn messages of at most 3,000 characters.

    Each statement sits in a code block under a heading (``*SQL run 2 of 3*``); one too long for a
    message is cut, at a line break where possible, into ``(part i/n)`` messages whose code
    blocks join back to the exact statement. Blank statements are left out; backticks show as
    ``ˋ`` so they cannot close the code block.
    """
    statements = [sql for sql in sql_runs if sql.strip()]
    count = len(statements)
    messages: list[str] = []
    for number, sql in enumerate(statements, start=1):
        heading = "*SQL run*" if count == 1 else f"*SQL run {number} of {count}*"
        body = sql.replace("`", BACKTICK_STAND_IN)
        # Part numbers are unknown until the text is cut, so room is kept for the widest.
        widest = f"{heading} (part {len(body)}/{len(body)})\n"
        budget = MAX_SECTION_CHARS - len(widest) - len(CODE_OPEN) - len(CODE_CLOSE)
        pieces = _cut(body, budget, first_budget=budget)
        for part, piece in enumerate(pieces, start=1):
            label = heading if len(pieces) == 1 else f"{heading} (part {part}/{len(pieces)})"
            messages.append(f"{label}\n{CODE_OPEN}{escape(piece)}{CODE_CLOSE}")
    return messages


def thread_messages_for_overflow(title: str, items: Sequence[str]) -> list[str]:
    """Every item as a bullet, over as many mrkdwn messages of at most 3,000 characters as needed.

    Each message starts with the bold ``title`` (and ``(i/n)`` when there are several). Items
    are packed in order and never dropped; one longer than a message is cut into pieces that end
    and resume with ``…``. Blank items are left out.
    """
    kept = [item for item in items if item.strip()]
    if not kept:
        return []
    heading = f"*{escape(shorten(title, MAX_THREAD_TITLE_CHARS))}*"
    # Room for the widest possible "(i/n)": there are never more messages than characters.
    total_chars = sum(len(item) for item in kept)
    widest = f"{heading} ({total_chars}/{total_chars})"
    budget = MAX_SECTION_CHARS - len(widest)

    bodies: list[list[str]] = [[]]
    used = 0
    for item in kept:
        line = f"\n{BULLET}{escape(item)}"
        if used + len(line) <= budget:
            bodies[-1].append(line)
            used += len(line)
            continue
        if len(line) <= budget:
            bodies.append([line])
            used = len(line)
            continue
        # Too long for any one message: fill what is left of this one, then continue in fresh
        # ones, rather than leaving a near-empty message behind.
        wrapping = len(f"\n{BULLET}") + 2 * len(CONTINUED)
        room = budget - used - wrapping
        if room < budget // 10:
            bodies.append([])
            room = budget - wrapping
        pieces = _cut(item, budget - wrapping, first_budget=room)
        for index, piece in enumerate(pieces):
            start = BULLET if index == 0 else f"{BULLET}{CONTINUED}"
            end = "" if index == len(pieces) - 1 else CONTINUED
            line = f"\n{start}{escape(piece)}{end}"
            if index > 0:
                bodies.append([])
                used = 0
            bodies[-1].append(line)
            used += len(line)
    bodies = [body for body in bodies if body]
    if len(bodies) == 1:
        return [heading + "".join(bodies[0])]
    return [
        f"{heading} ({number}/{len(bodies)})" + "".join(body)
        for number, body in enumerate(bodies, start=1)
    ]


def _cut(text: str, budget: int, *, first_budget: int) -> list[str]:
    """Cut raw ``text`` into pieces whose *escaped* length fits; the pieces join back to it.

    The first piece gets ``first_budget`` (what is left of a message), the rest ``budget``. A
    piece ends after a line break when one falls in its second half, else after a space, else
    where the budget runs out. Raw text is cut, never escaped text, so ``&amp;`` stays whole.
    """
    widths = np.fromiter((len(escape(char)) for char in text), dtype=np.int64, count=len(text))
    # ends[i] = escaped length of text[:i].
    ends = np.concatenate(([0], np.cumsum(widths)))
    pieces: list[str] = []
    start = 0
    limit = max(first_budget, 1)
    while start < len(text):
        # The furthest end whose escaped length from start still fits (at least one character).
        stop = int(np.searchsorted(ends, ends[start] + limit, side="right")) - 1
        stop = max(stop, start + 1)
        if stop < len(text):
            stop = _break_point(text, start, stop)
        pieces.append(text[start:stop])
        start = stop
        limit = budget
    return pieces


def _break_point(text: str, start: int, stop: int) -> int:
    # Only breaks in the second half count: cutting a piece short to reach a distant line break
    # would double the number of messages for little gain.
    floor = start + (stop - start) // 2
    for separator in ("\n", " "):
        found = text.rfind(separator, floor, stop)
        if found != -1:
            return found + 1
    return stop


def _guard(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _may_hold_text(dtype: Any) -> bool:
    if isinstance(dtype, pd.CategoricalDtype):
        return _may_hold_text(dtype.categories.dtype)
    return pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)


# Data-derived text is drawn literally: no mathtext for "$", no LaTeX even if matplotlibrc
# turns text.usetex on.
