"""Checking the figures in AI-written text against the figures the report run computed.

Gemini writes a report's summary, insights and recommendations from exact figures, but a
language model can still state a number that is nowhere in the data: a total it added up
itself, a percentage taken from the wrong base, a date it guessed. Such a sentence reads
exactly like a true one, so it is dropped before anyone sees it:

* :func:`extract_figures` finds every figure as written (``$1.2k``, ``12.5%``, ``Nov 26``);
* :func:`evidence_from` collects what the run computed: metrics, categories, trend, the
  frame's cells, the window, and the numbers inside names and labels;
* :func:`supported` accepts a figure when a computed value rounds to it the way it is
  displayed (``1,234.567`` supports ``1,234.57``, ``1,235`` and ``1.2k``, never ``1.3k``);
* :func:`check_text` and :func:`verify_analysis` drop the sentences with unsupported figures
  and say so in the analysis notes; :func:`unsupported_figures` lists them so the model can be
  asked once more.

Pure functions with no I/O and no Dagster import: the analyst that calls them decides what to
do with the result.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import decimal
import math
import numbers
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import pandas as pd

from report_pipelines.analysts.types import Analysis, Trend
from report_pipelines.formatting import column_name, format_number

# Frames can hold millions of rows; the first rows are the ones a prompt's sample and a reader
# see, and checking every cell of a huge result would cost more than the report itself.
MAX_FRAME_ROWS = 5_000
MAX_PROFILED_COLUMNS = 200
MAX_CELL_CHARS = 2_000
# Prose counts small things ("3 regions", "the top 5", "2 of the columns") that are too common
# and too harmless to demand a computed value for; an invented total is never this small.
SMALL_COUNT_LIMIT = 10
YEARS = range(1900, 2101)
# After naming a few columns, prose counts "the other N columns" (the statistical analyst names
# up to six numeric columns before counting the rest).
MAX_NAMED_COLUMNS = 6

NUMBER, PERCENT, DATE, MONTHDAY = "number", "percent", "date", "monthday"

# Wide enough that building a figure's value or its rounding interval never rounds.
_WIDE = decimal.Context(prec=200, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
_TENTH = Decimal("0.1")
_ONE = Decimal(1)

_SCALES = {
    "k": Decimal(10**3),
    "thousand": Decimal(10**3),
    "m": Decimal(10**6),
    "mn": Decimal(10**6),
    "mln": Decimal(10**6),
    "million": Decimal(10**6),
    "b": Decimal(10**9),
    "bn": Decimal(10**9),
    "billion": Decimal(10**9),
    "t": Decimal(10**12),
    "tn": Decimal(10**12),
    "trillion": Decimal(10**12),
}
_MONTHS = {
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
# Longest first, so "March" is not read as "Mar" followed by "ch".
_MONTH = "|".join(sorted((name.capitalize() for name in _MONTHS), key=len, reverse=True))
_CURRENCY_CODES = "USD|EUR|GBP|JPY|CHF|CAD|AUD|NZD|CNY|INR|SEK|NOK|DKK|BRL|MXN|ZAR|SGD|HKD"
_SPACE = r"[ \u00a0]"

# Text that is not prose: code, Slack links and mentions, URLs, e-mail addresses, HTML
# entities and :emoji: codes. Digits inside them are names, not figures.
_PROTECTED = r"""
    ```[\s\S]*?```
  | `[^`\n]*`
  | <(?:https?://|mailto:|tel:|[\#@!])[^<>\n]*>
  | (?:https?://|www\.)[^\s<>]*[^\s<>.,;:!?)\]'"]
  | [\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+
  | &\#?\w+;
  | (?<![\w:]):[a-z0-9_+\-]+:(?![\w:])
"""

# One scanner, alternatives tried in this order at each position: text to skip, dates (so a
# date is one figure, not three numbers), times of day and list markers (skipped), numbers,
# and finally words, which swallow identifiers such as Q3, p95, B2B, v1.2 or gemini-2 whole.
_TOKENS = re.compile(
    rf"""
    (?P<skip>{_PROTECTED})
  | (?P<iso>
        (?<![\w.\-])
        (?P<iso_year>[0-9]{{4}})-(?P<iso_month>[0-9]{{2}})-(?P<iso_day>[0-9]{{2}})
        (?:[T ][0-9]{{2}}:[0-9]{{2}}(?::[0-9]{{2}}(?:\.[0-9]+)?)?
           (?:Z|[+\-][0-9]{{2}}:?[0-9]{{2}})?)?
        (?![\w\-])
    )
  | (?P<dm>
        (?<![\w.])
        (?P<dm_day>3[01]|[12][0-9]|0?[1-9])(?:st|nd|rd|th)?{_SPACE}+(?:of{_SPACE}+)?
        (?P<dm_month>{_MONTH})(?![^\W\d_])
        (?:\.?,?{_SPACE}+(?P<dm_year>(?:19|20)[0-9]{{2}})(?![0-9]))?
    )
  | (?P<md>
        (?<![\w.])
        (?P<md_month>{_MONTH})\.?{_SPACE}+
        (?P<md_day>3[01]|[12][0-9]|0?[1-9])(?:st|nd|rd|th)?(?![\w:])
        (?:,?{_SPACE}+(?P<md_year>(?:19|20)[0-9]{{2}})(?![0-9]))?
    )
  | (?P<time>
        (?<![\w.:])
        (?:
            (?:[01]?[0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])?
            (?:{_SPACE}?(?:[AaPp][Mm]|[AaPp]\.[Mm]\.))?
          | (?:1[0-2]|0?[1-9]){_SPACE}?(?:[AaPp][Mm]|[AaPp]\.[Mm]\.)
        )
        (?![\w:])
    )
  | (?P<marker>^[ \t]*[0-9]{{1,3}}[.)](?=[ \t]))
  | (?P<num>
        (?<![^\W_])(?<![^\W_]_)(?<!\.)
        (?P<sign>[\-+\u2212])?
        (?P<currency>(?:[A-Z]{{1,2}})?[$€£¥₹]|(?:{_CURRENCY_CODES}){_SPACE}?)?
        (?P<sign2>[\-+\u2212])?
        (?P<int>[0-9]{{1,3}}(?:,[0-9]{{3}})+|[0-9]+)
        (?:\.(?P<frac>[0-9]+))?
        (?:[eE](?P<exp>[+\-]?[0-9]{{1,3}}))?
        (?!\.?[0-9])
        (?:
            (?P<times>[x×])
          | {_SPACE}?(?P<suffix>thousand|million|billion|trillion|bn|mn|mln|tn|[kKmMbBT])
        )?
        (?:
            {_SPACE}?(?P<pct>%|percentage{_SPACE}points?|percent|per{_SPACE}cent|pct|pp)
          | {_SPACE}?(?:{_CURRENCY_CODES}|[$€£¥₹])
        )?
        (?![^\W_])(?!_\w)
    )
  | (?P<word>[^\W\d_]\w*(?:[\-.][^\W_]\w*)*)
    """,
    re.VERBOSE | re.MULTILINE,
)
_PROTECTED_SPANS = re.compile(_PROTECTED, re.VERBOSE)
# Between the two ends of a range: "1.2-1.5M" and "12–15%" share the second end's unit.
_RANGE_DASH = re.compile(r"\s*[\-–—]\s*")
_DIGIT_RUN = re.compile(r"[0-9]+(?:\.[0-9]+)?")
# Column names that hold percentages or fractions, e.g. ``conversion_rate``, ``margin_pct``.
_RATE_WORDS = frozenset(
    {"pct", "percent", "percentage", "rate", "ratio", "share", "margin", "growth", "churn"}
)
_NAME_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|%")


@dataclass(frozen=True)
class Figure:
    """One figure as written in prose, with the value it states.

    ``value`` is scaled (``1.2k`` -> 1200); a date's value is its proleptic ordinal, a
    ``monthday`` (a date without a year) is ``month * 100 + day``. ``decimals`` and ``scale``
    say how precisely the text shows the value (``1.2k``: one decimal of thousands), which is
    what matching allows for. Scientific notation (``1.2346e+15``, how huge figures are
    formatted) has ``scale`` 10 to the power of its exponent.
    """

    text: str
    value: Decimal
    kind: str
    decimals: int
    scale: Decimal


@dataclass
class Evidence:
    """The values a report run computed, which the figures in its prose must come from."""

    numbers: set[Decimal] = field(default_factory=set)
    percents: set[Decimal] = field(default_factory=set)
    dates: set[dt.date] = field(default_factory=set)
    # Numbers in names and labels ("Store 0412", a "2026" report name): always allowed.
    words: set[Decimal] = field(default_factory=set)


@dataclass
class TextCheck:
    """``text`` with its unsupported sentences removed, and what was removed."""

    kept: str
    removed: list[str]
    checked: int
    unsupported: list[str]


@dataclass
class FigureCheck:
    """What :func:`verify_analysis` checked and dropped across summary, insights and advice."""

    checked: int
    unsupported: list[str]
    removed: list[str]
    summary_replaced: bool


def extract_figures(text: str) -> list[Figure]:
    """Every figure in ``text``, in order.

    >>> [(f.text, f.value, f.kind) for f in extract_figures("Q3 revenue rose 12.5% to $1.2M")]
    [('12.5%', Decimal('12.5'), 'percent'), ('$1.2M', Decimal('1200000.0'), 'number')]
    """
    found: list[tuple[tuple[int, int], Figure, bool]] = []
    for match in _TOKENS.finditer(text):
        if match.group("num") is not None:
            figure = _number_figure(match)
            plain = not (match.group("exp") or match.group("times"))
            found.append((match.span(), figure, plain))
        elif match.group("iso") is not None:
            date = _date(match.group("iso_year"), match.group("iso_month"), match.group("iso_day"))
            found.append((match.span(), _date_figure(match.group(), date), False))
        elif match.group("dm") is not None:
            figure = _written_date(match.group(), "dm", match)
            found.append((match.span(), figure, False))
        elif match.group("md") is not None:
            figure = _written_date(match.group(), "md", match)
            found.append((match.span(), figure, False))
    return _join_ranges(text, found)


def _number_figure(match: re.Match[str]) -> Figure:
    sign = match.group("sign") or match.group("sign2") or ""
    fraction = match.group("frac") or ""
    digits = match.group("int").replace(",", "") + (f".{fraction}" if fraction else "")
    if match.group("exp"):
        scale = _ONE.scaleb(int(match.group("exp")), _WIDE)
    elif match.group("suffix"):
        scale = _SCALES[match.group("suffix").lower()]
    else:
        scale = _ONE
    with decimal.localcontext(_WIDE):
        value = Decimal(digits) * scale
        if sign in ("-", "\u2212"):
            value = -value
    kind = PERCENT if match.group("pct") else NUMBER
    return Figure(match.group(), value, kind, len(fraction), scale)


def _date(year: str, month: str | int, day: str) -> dt.date | None:
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        return None


def _date_figure(text: str, date: dt.date | None) -> Figure:
    # An impossible date ("2026-02-30") gets ordinal 0, which no real date has: it can never be
    # supported, which is right for a date that cannot have been computed.
    ordinal = date.toordinal() if date is not None else 0
    return Figure(text, Decimal(ordinal), DATE, 0, _ONE)


def _written_date(text: str, prefix: str, match: re.Match[str]) -> Figure:
    month = _MONTHS[match.group(f"{prefix}_month").lower()]
    day = match.group(f"{prefix}_day")
    year = match.group(f"{prefix}_year")
    if year is not None:
        return _date_figure(text, _date(year, month, day))
    return Figure(text, Decimal(month * 100 + int(day)), MONTHDAY, 0, _ONE)


def _join_ranges(text: str, found: list[tuple[tuple[int, int], Figure, bool]]) -> list[Figure]:
    """Give the first end of a dashed range the second end's unit: ``12-15%``, ``1.2-1.5M``."""
    figures = [figure for _, figure, _ in found]
    for i in range(len(found) - 1):
        (_, end), first, plain = found[i]
        (start, _), second, _ = found[i + 1]
        if not plain or first.kind != NUMBER or first.scale != _ONE:
            continue
        if second.kind not in (NUMBER, PERCENT) or not _RANGE_DASH.fullmatch(text[end:start]):
            continue
        with decimal.localcontext(_WIDE):
            value = first.value * second.scale
        figures[i] = dataclasses.replace(
            first, value=value, kind=second.kind, scale=second.scale
        )
    return figures


def evidence_from(
    analysis: Analysis,
    frame: pd.DataFrame | None,
    *,
    window_start: dt.date | None = None,
    window_end: dt.date | None = None,
    extra_numbers: Iterable[Any] = (),
    extra_percents: Iterable[Any] = (),
    labels: Iterable[str] = (),
) -> Evidence:
    """Everything the run computed that prose about it may quote.

    ``analysis`` is the exact analysis of ``frame`` (its metrics, categories and trend);
    ``window_end`` is the window's exclusive end, so the last day inside it counts as well.
    ``extra_numbers`` and ``extra_percents`` carry figures computed elsewhere (changes against
    the previous period, targets); ``labels`` are names such as the report's, whose numbers
    are always allowed.
    """
    evidence = Evidence()
    _add_number(evidence, analysis.row_count)
    _add_number(evidence, len(analysis.metrics))
    rate_columns = set()
    for metric in analysis.metrics:
        _add_label(evidence, metric.column)
        for value in (metric.total, metric.average, metric.minimum, metric.maximum, metric.count):
            _add_number(evidence, value, shown=True)
        if _is_rate(metric.column):
            rate_columns.add(metric.column)
            fractions = _within_one(metric.minimum) and _within_one(metric.maximum)
            for value in (metric.average, metric.minimum, metric.maximum):
                _add_rate(evidence, value, fractions=fractions)
    _add_column_counts(evidence, len(analysis.metrics))
    _add_categories(evidence, analysis)
    if analysis.trend is not None:
        _add_trend(evidence, analysis.trend)
    for note in analysis.notes:
        _add_label(evidence, note)
    if frame is not None:
        _add_number(evidence, frame.shape[1])
        _add_column_counts(evidence, frame.shape[1])
        _add_frame(evidence, frame)
    _add_window(evidence, window_start, window_end)
    for value in extra_numbers:
        _add_number(evidence, value, shown=True)
    for value in extra_percents:
        _add_percent(evidence, value)
    for label in labels:
        _add_label(evidence, label)
    return _finish(evidence)


def _add_number(evidence: Evidence, value: Any, *, shown: bool = False) -> None:
    """Add ``value``; with ``shown``, also as formatted for people, which is what a model saw
    and may round further (1234.449 shows as 1,234.45, which rounds to 1,234.5)."""
    number = _decimal(value)
    if number is None:
        return
    evidence.numbers.add(number)
    if shown:
        displayed = _displayed(value)
        if displayed is not None:
            evidence.numbers.add(displayed)


def _add_percent(evidence: Evidence, value: Any) -> None:
    """Add a percentage and its one-decimal rounding (how shares and changes are shown)."""
    percent = _decimal(value)
    if percent is None:
        return
    evidence.percents.add(percent)
    with decimal.localcontext(_WIDE):
        try:
            evidence.percents.add(percent.quantize(_TENTH, rounding=ROUND_HALF_EVEN))
        except InvalidOperation:
            # Too many digits to show to one decimal; the exact value is already there.
            pass


def _add_share(evidence: Evidence, part: Any, whole: Any) -> None:
    part_number, whole_number = _decimal(part), _decimal(whole)
    if part_number is None or whole_number is None or not whole_number:
        return
    with decimal.localcontext(decimal.Context(prec=34)):
        _add_percent(evidence, part_number / whole_number * 100)


def _add_rate(evidence: Evidence, value: Any, *, fractions: bool) -> None:
    """A value of a rate-like column, quoted as a percentage: 12.5 as 12.5%, 0.125 too."""
    number = _decimal(value)
    if number is None:
        return
    _add_percent(evidence, number)
    if fractions:
        with decimal.localcontext(_WIDE):
            _add_percent(evidence, number * 100)


def _add_column_counts(evidence: Evidence, columns: int) -> None:
    for named in range(1, MAX_NAMED_COLUMNS + 1):
        if columns > named:
            evidence.numbers.add(Decimal(columns - named))


def _add_label(evidence: Evidence, text: Any) -> None:
    """Numbers in a name or label, both as figures and as bare digit runs: "Store 0412", "Q3"
    and "revenue_2024" name things, so prose may repeat their numbers."""
    label = str(text)[:MAX_CELL_CHARS]
    for figure in extract_figures(label):
        if figure.kind == DATE and figure.value:
            evidence.dates.add(dt.date.fromordinal(int(figure.value)))
        elif figure.kind in (NUMBER, PERCENT):
            evidence.words.add(figure.value)
    for run in _DIGIT_RUN.findall(label):
        evidence.words.add(Decimal(run))


def _add_categories(evidence: Evidence, analysis: Analysis) -> None:
    totals = {metric.column: metric.total for metric in analysis.metrics}
    for top in analysis.categories:
        _add_label(evidence, top.column)
        _add_label(evidence, top.measure)
        _add_number(evidence, top.distinct)
        _add_number(evidence, len(top.values))
        if top.measure == "rows":
            whole = analysis.row_count
        else:
            whole = totals.get(top.measure)
        values = [_decimal(value) for _, value in top.values]
        with decimal.localcontext(_WIDE):
            listed = sum((value for value in values if value is not None), Decimal(0))
            rest = _decimal(whole) - listed if _decimal(whole) is not None else None
        _add_number(evidence, listed)
        _add_number(evidence, rest)
        for label, value in top.values:
            _add_label(evidence, label)
            _add_number(evidence, value, shown=True)
            _add_share(evidence, value, listed)
            _add_share(evidence, value, whole)
        _add_share(evidence, listed, whole)
        _add_share(evidence, rest, whole)


def _add_trend(evidence: Evidence, trend: Trend) -> None:
    _add_label(evidence, trend.measure)
    _add_label(evidence, trend.time_column)
    _add_number(evidence, trend.points)
    for point in (trend.first, trend.last, trend.peak, trend.low):
        _add_number(evidence, point.value, shown=True)
        evidence.dates.add(_as_date(point.when))
    _add_number(evidence, trend.change, shown=True)
    _add_percent(evidence, trend.change_pct)
    first, last = _exact(trend.first.value), _exact(trend.last.value)
    if first is None or last is None or not first:
        return
    with decimal.localcontext(decimal.Context(prec=34)):
        change = (last - first) / first * 100
    _add_percent(evidence, change)
    # A change that rounds to 0.0% is described as "less than 0.1%".
    if change and abs(change) < Decimal("0.05"):
        evidence.percents.add(_TENTH)


def _add_frame(evidence: Evidence, frame: pd.DataFrame) -> None:
    head = frame.iloc[:MAX_FRAME_ROWS]
    # By position: column labels may repeat, and frame[label] would then return a frame.
    for index in range(frame.shape[1]):
        name = column_name(frame.columns[index])
        _add_label(evidence, name)
        if index < MAX_PROFILED_COLUMNS:
            _add_profile(evidence, frame.iloc[:, index])
        series = head.iloc[:, index]
        if pd.api.types.is_bool_dtype(series.dtype):
            continue
        rate = _is_rate(name)
        for cell in _distinct(series.tolist()):
            _add_cell(evidence, cell, rate=rate)


def _add_profile(evidence: Evidence, series: pd.Series) -> None:
    """Null, non-null and distinct counts: the column profile a prompt shows."""
    try:
        nulls = int(series.isna().sum())
    except ArithmeticError:
        # A signalling Decimal NaN raises when pandas compares it with itself.
        return
    _add_number(evidence, nulls)
    _add_number(evidence, len(series) - nulls)
    try:
        _add_number(evidence, int(series.nunique(dropna=True)))
    except (TypeError, ArithmeticError):
        # Lists and dicts (JSON columns) are unhashable; they have no figure to count.
        pass


def _distinct(cells: list) -> Iterator[Any]:
    seen: set = set()
    for cell in cells:
        try:
            if cell in seen:
                continue
            seen.add(cell)
        except TypeError:
            # Unhashable cells (lists, dicts) and signalling NaNs hold no figure to compare.
            continue
        yield cell


def _add_cell(evidence: Evidence, cell: Any, *, rate: bool) -> None:
    if cell is None or cell is pd.NaT or cell is pd.NA:
        return
    if isinstance(cell, str):
        for figure in extract_figures(cell[:MAX_CELL_CHARS]):
            if figure.kind == DATE and figure.value:
                evidence.dates.add(dt.date.fromordinal(int(figure.value)))
            elif figure.kind == PERCENT:
                evidence.words.add(figure.value)
                evidence.percents.add(figure.value)
            elif figure.kind == NUMBER:
                evidence.words.add(figure.value)
    elif isinstance(cell, dt.date):
        evidence.dates.add(_as_date(cell))
    else:
        number = _decimal(cell)
        if number is None:
            return
        evidence.numbers.add(number)
        if rate:
            _add_rate(evidence, number, fractions=_within_one(number))


def _add_window(evidence: Evidence, start: dt.date | None, end: dt.date | None) -> None:
    if start is not None:
        evidence.dates.add(_as_date(start))
    if end is not None:
        evidence.dates.add(_as_date(end))
        # The end is exclusive: "through November 22" names the last day inside it.
        evidence.dates.add(_as_date(end) - dt.timedelta(days=1))
    if start is not None and end is not None:
        evidence.words.add(Decimal((_as_date(end) - _as_date(start)).days))


def _finish(evidence: Evidence) -> Evidence:
    """Add absolute values ("fell by 120" for a change of -120) and the numbers of dates."""
    evidence.numbers |= {abs(number) for number in evidence.numbers}
    evidence.percents |= {abs(percent) for percent in evidence.percents}
    # "November 16-22" and "the 26th" quote a date's parts as plain numbers.
    for date in evidence.dates:
        evidence.words.update((Decimal(date.day), Decimal(date.month), Decimal(date.year)))
    return evidence


def _decimal(value: Any) -> Decimal | None:
    """``value`` as a finite Decimal; None for non-numbers, booleans, NaN and infinities.

    Floats go through their shortest repr (0.1, not 0.1000000000000000055...), which is the
    number the data shows.
    """
    if value is None or isinstance(value, bool) or pd.api.types.is_bool(value):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, numbers.Integral):
        return Decimal(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        return Decimal(repr(number)) if math.isfinite(number) else None
    return None


def _exact(value: Any) -> Decimal | None:
    """``value`` with a float's exact binary value, as the statistical analyst computes."""
    if isinstance(value, float):
        return Decimal(value) if math.isfinite(value) else None
    return _decimal(value)


def _displayed(value: Any) -> Decimal | None:
    try:
        return Decimal(format_number(value).replace(",", ""))
    except (InvalidOperation, ValueError):
        return None


def _within_one(value: Any) -> bool:
    number = _decimal(value)
    return number is not None and abs(number) <= 1


def _is_rate(name: str) -> bool:
    return any(word.lower() in _RATE_WORDS or word == "%" for word in _NAME_WORDS.findall(name))


def _as_date(moment: dt.date) -> dt.date:
    return moment.date() if isinstance(moment, dt.datetime) else moment


class _Lookup:
    """Evidence sorted once, so each figure costs a binary search rather than a scan of every
    cell (a frame contributes up to thousands of values per column)."""

    def __init__(self, evidence: Evidence) -> None:
        self.numbers = _sorted_magnitudes(evidence.numbers)
        self.percents = _sorted_magnitudes(evidence.percents)
        self.words = {abs(word) for word in map(_decimal, evidence.words) if word is not None}
        self.ordinals = {date.toordinal() for date in evidence.dates}
        self.monthdays = {date.month * 100 + date.day for date in evidence.dates}
        self.years = {date.year for date in evidence.dates}

    def supports(self, figure: Figure) -> bool:
        if figure.kind == DATE:
            return figure.value in self.ordinals
        if figure.kind == MONTHDAY:
            return figure.value in self.monthdays
        magnitude = abs(figure.value)
        if figure.kind == PERCENT:
            # 0% and 100% describe "none" and "all", which need no computed share.
            return magnitude in (0, 100) or _near(self.percents, figure)
        if figure.kind != NUMBER:
            return False
        if figure.text.isdigit():
            if magnitude <= SMALL_COUNT_LIMIT:
                return True
            if YEARS.start <= magnitude < YEARS.stop and int(magnitude) in self.years:
                return True
        return magnitude in self.words or _near(self.numbers, figure)


def _sorted_magnitudes(values: Iterable[Any]) -> list[Decimal]:
    return sorted({abs(number) for number in map(_decimal, values) if number is not None})


def _near(magnitudes: list[Decimal], figure: Figure) -> bool:
    """Whether a value rounds to ``figure`` as displayed, by half-up, half-even or truncation.

    Together those roundings accept exactly the values in ``[f - unit/2, f + unit)``, with
    ``unit`` the last displayed digit (0.1 of thousands for ``1.2k``); comparing magnitudes
    lets prose drop the sign ("fell 120" for a change of -120).
    """
    with decimal.localcontext(_WIDE):
        unit = _ONE.scaleb(-figure.decimals) * figure.scale
        magnitude = abs(figure.value)
        low, high = magnitude - unit / 2, magnitude + unit
    index = bisect.bisect_left(magnitudes, low)
    return index < len(magnitudes) and magnitudes[index] < high


def supported(figure: Figure, evidence: Evidence) -> bool:
    """Whether ``figure`` is one of the computed values, as displayed.

    A number matches a computed number rounded to its displayed decimals and scale, a name's
    number exactly, a small count (0-10) or the year of a computed date; a percentage matches
    only computed percentages (an invented "grew 17%" is not rescued by some other 17); a date
    matches a computed date. Checking many figures? :func:`check_text` sorts the evidence once.
    """
    return _Lookup(evidence).supports(figure)


_ABBREVIATIONS = frozenset(
    {
        "e.g",
        "i.e",
        "vs",
        "approx",
        "appr",
        "est",
        "incl",
        "excl",
        "avg",
        "ca",
        "cf",
        "no",
        "nos",
        "fig",
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "inc",
        "ltd",
        "co",
        "corp",
        "dept",
        *(name for name in _MONTHS if len(name) <= 4),
    }
)
_BOUNDARY = re.compile(r"([.!?…]+)([\"'”’)\]*_~]*)([ \t\u00a0]+)")
_TOKEN_BEFORE = re.compile(r"[^\s(\[\"'“‘*_~]*$")
_INITIALISM = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")
_LINE_PREFIX = re.compile(r"[ \t]*(?:(?:[\-*•◦▪‣–]|[0-9]{1,3}[.)])[ \t]+)?")
_NEWLINE = re.compile(r"\r?\n")
_BLANK_LINES = re.compile(r"\n{3,}")


def sentences(line: str) -> list[str]:
    """``line`` cut into sentences at ``.``, ``!`` and ``?`` followed by a space.

    A decimal point (``1.5``), an abbreviation (``e.g.``, ``vs.``, ``approx.``, ``Nov.``) or a
    period followed by a lowercase word does not end a sentence, and neither does anything
    inside code, a link or a URL.
    """
    protected = [match.span() for match in _PROTECTED_SPANS.finditer(line)]
    pieces: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(line):
        if match.end() >= len(line) or not _ends_sentence(line, match):
            continue
        if any(low <= match.start() < high for low, high in protected):
            continue
        pieces.append(line[start : match.end(2)].strip())
        start = match.end()
    pieces.append(line[start:].strip())
    return [piece for piece in pieces if piece]


def _ends_sentence(line: str, match: re.Match[str]) -> bool:
    if "!" in match.group(1) or "?" in match.group(1):
        return True
    if line[match.end()].islower():
        return False
    before = _TOKEN_BEFORE.search(line, 0, match.start())
    token = before.group() if before else ""
    return token.lower() not in _ABBREVIATIONS and not _INITIALISM.fullmatch(token)


def check_text(text: str, evidence: Evidence) -> TextCheck:
    """``text`` without the sentences that state a figure the evidence does not support.

    Lines stay lines (a bullet keeps its marker while any of its sentences remain); when
    nothing is removed the text comes back unchanged.
    """
    return _check_text(text, _Lookup(evidence))


def _check_text(text: str, lookup: _Lookup) -> TextCheck:
    removed: list[str] = []
    unsupported: list[str] = []
    checked = 0
    lines: list[str] = []
    for line in _NEWLINE.split(text):
        prefix = _LINE_PREFIX.match(line).group()
        parts = sentences(line[len(prefix) :])
        if not parts:
            lines.append(line.rstrip())
            continue
        kept = []
        for sentence in parts:
            figures = extract_figures(sentence)
            checked += len(figures)
            bad = [figure.text for figure in figures if not lookup.supports(figure)]
            if bad:
                removed.append(sentence)
                unsupported.extend(bad)
            else:
                kept.append(sentence)
        if len(kept) == len(parts):
            lines.append(line.rstrip())
        elif kept:
            lines.append(prefix + " ".join(kept))
    if not removed:
        return TextCheck(text, [], checked, [])
    kept_text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return TextCheck(kept_text, removed, checked, unsupported)


def verify_analysis(
    analysis: Analysis, evidence: Evidence, *, fallback_summary: str
) -> tuple[Analysis, FigureCheck]:
    """``analysis`` without the AI sentences whose figures are not in the data, and a record.

    A summary left without any figure after its invented ones are dropped says nothing a
    reader can use, so ``fallback_summary`` (the statistical one) replaces it. Each removal is
    noted in ``notes``, because a shorter report should say why it is shorter. The input is
    never changed.
    """
    lookup = _Lookup(evidence)
    summary = _check_text(analysis.summary, lookup)
    insights = [_check_text(text, lookup) for text in analysis.insights]
    recommendations = [_check_text(text, lookup) for text in analysis.recommendations]
    replaced = bool(summary.removed) and not extract_figures(summary.kept)
    notes = list(analysis.notes)
    # The notes reach Slack, so they never repeat an unsupported figure: the run's metadata
    # lists them (figures_unsupported, removed_sentences) for whoever investigates.
    if replaced:
        notes.append(
            "The AI summary stated figures that are not in the data; showing the statistical summary."
        )
    others = [*insights, *recommendations] if replaced else [summary, *insights, *recommendations]
    dropped = [sentence for check in others for sentence in check.removed]
    if dropped:
        noun = "sentence" if len(dropped) == 1 else "sentences"
        notes.append(f"Removed {len(dropped)} AI {noun} whose figures are not in the data.")
    checks = [summary, *insights, *recommendations]
    result = FigureCheck(
        checked=sum(check.checked for check in checks),
        unsupported=_unique(text for check in checks for text in check.unsupported),
        removed=[sentence for check in checks for sentence in check.removed],
        summary_replaced=replaced,
    )
    verified = dataclasses.replace(
        analysis,
        summary=fallback_summary if replaced else summary.kept,
        insights=_surviving(insights),
        recommendations=_surviving(recommendations),
        notes=notes,
    )
    return verified, result


def unsupported_figures(analysis: Analysis, evidence: Evidence) -> list[str]:
    """Every unsupported figure in the summary, insights and recommendations, once each, in
    order: what to show the model when asking it to try again."""
    lookup = _Lookup(evidence)
    texts = [analysis.summary, *analysis.insights, *analysis.recommendations]
    return _unique(text for item in texts for text in _check_text(item, lookup).unsupported)


def _surviving(checks: list[TextCheck]) -> list[str]:
    return [check.kept for check in checks if check.kept.strip() or not check.removed]


def _unique(texts: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(texts))

