"""Text formatting shared by the analysts, the message renderers and the notices.

Pure functions that import nothing of ours: numbers for people (``1,234.50``), Slack's escaping
(``&``, ``<``, ``>``), and cutting text to a limit without breaking an escape.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from decimal import Decimal
from typing import Any

import numpy as np

ELLIPSIS = "…"
MISSING = "—"
# Past this many digits a number is unreadable in chat, and Python refuses to print ints
# beyond 4300 digits at all, so larger values switch to scientific notation.
MAX_EXACT_DIGITS = 30
# Floats carry about 15-16 significant digits: past 1e15 the integer digits would be noise.
FLOAT_EXACT_LIMIT = 1e15

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_ESCAPE_TABLE = str.maketrans(_ESCAPES)


def escape(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` the way Slack requires, so data cannot form links or pings."""
    return text.translate(_ESCAPE_TABLE)


def format_number(value: Any) -> str:
    """Human figure for a metric: ``1234`` -> ``1,234``; ``Decimal("1234.50")`` -> ``1,234.50``.

    Floats show two decimals (four significant digits below 1), integral floats show as ints,
    ``None`` shows as a dash. Booleans and other non-numbers render as their text.
    """
    if value is None:
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, Decimal):
        return _format_decimal(value)
    if isinstance(value, numbers.Integral):
        return _format_int(int(value))
    if isinstance(value, numbers.Real):
        return _format_float(float(value))
    return str(value)


def _format_int(value: int) -> str:
    if abs(value) >= 10**MAX_EXACT_DIGITS:
        return format(Decimal(value), ".4e")
    return f"{value:,}"


def _format_float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if abs(value) >= FLOAT_EXACT_LIMIT:
        return f"{value:.4e}"
    if value.is_integer():
        return f"{int(value):,}"
    if abs(value) < 1:
        return f"{value:.4g}"
    return f"{value:,.2f}"


def _format_decimal(value: Decimal) -> str:
    if value.is_nan():
        return "NaN"
    if value.is_infinite():
        return "∞" if value > 0 else "-∞"
    _, digits, exponent = value.as_tuple()
    integer_digits = max(len(digits) + exponent, 1)
    fraction_digits = max(-exponent, 0)
    if integer_digits + fraction_digits > MAX_EXACT_DIGITS:
        return format(value, ".4e")
    return format(value, ",f")


def plural(count: int, noun: str) -> str:
    """``plural(1, "row")`` -> ``1 row``; ``plural(1200, "row")`` -> ``1,200 rows``."""
    return f"{format_number(count)} {noun}{'' if count == 1 else 's'}"


def clean(value: Any) -> str:
    """``value`` as text that encodes as UTF-8 (lone surrogates from badly decoded data become ``?``)."""
    text = value if isinstance(value, str) else str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def one_line(value: Any) -> str:
    """Whitespace runs (newlines included) folded into single spaces."""
    return " ".join(clean(value).split())


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, the cut marked with an ellipsis."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    return text[: limit - len(ELLIPSIS)] + ELLIPSIS


def fit(text: Any, limit: int) -> str:
    """Escape ``text`` and cut it so the *escaped* result has at most ``limit`` characters.

    The raw text is cut, never the escaped one, so an entity such as ``&amp;`` is kept whole.
    """
    raw = clean(text)
    escaped = escape(raw)
    if len(escaped) <= limit:
        return escaped
    budget = limit - len(ELLIPSIS)
    used = 0
    end = 0
    for end, char in enumerate(raw):
        size = len(_ESCAPES.get(char, char))
        if used + size > budget:
            break
        used += size
    return escape(raw[:end].rstrip()) + ELLIPSIS


def column_name(label: object) -> str:
    """A result column's name as text: MultiIndex columns ``("sales", 2026)`` read ``sales / 2026``."""
    if isinstance(label, tuple):
        return " / ".join(text for text in map(str, label) if text)
    return str(label)


def first_line(err: BaseException, limit: int = 200) -> str:
    """The first line of an error's message (or its type's name), clipped to ``limit``."""
    text = str(err).strip()
    return clip(text.splitlines()[0] if text else type(err).__name__, limit)


def shorten(value: Any, limit: int, *, keep_end: bool = False) -> str:
    """``value`` on one line in at most ``limit`` characters, cut at the end or in the middle.

    ``keep_end`` suits category labels, which often share a long prefix and differ at the end
    ("Store 0412 - North", "Store 0412 - South").
    """
    text = " ".join(str(value).split())
    if len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    if keep_end:
        head = room - room // 2
        return text[:head].rstrip() + ELLIPSIS + text[len(text) - room // 2 :].lstrip()
    return text[:room].rstrip() + ELLIPSIS


def json_figure(value: Any) -> Any:
    """An exact figure for JSON: ints and finite floats as numbers, Decimals (and anything else) as
    their exact text, so no figure is rounded through a float on the way out; dates in ISO form."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)
