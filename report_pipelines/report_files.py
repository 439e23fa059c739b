"""Reading report files: YAML or JSON text in, a validated :class:`~report_pipelines.models.ReportSpec`
out, or a :class:`~report_pipelines.models.ReportValidationError` with one line per problem, each
naming its field (``schedule.time: ...``)."""

from __future__ import annotations

import json
from typing import Any

import yaml
from pydantic import ValidationError

from report_pipelines.models import ReportSpec, ReportValidationError


def validation_problems(errors: list[dict]) -> list[tuple[tuple, str]]:
    """``(field path, what to fix)`` for each of pydantic's ``err.errors()``, in our words."""
    problems = []
    for problem in errors:
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown key; remove it or check its spelling"
        elif problem["type"] == "missing":
            message = "required field is missing"
        elif problem["type"] == "literal_error":
            message = f"{message} (got {problem.get('input')!r})"
        problems.append((tuple(problem["loc"]), message))
    return problems


def format_validation_error(err: ValidationError) -> str:
    """One line per problem, each naming the field path: ``schedule.time: ...``."""
    return "\n".join(
        f"{'.'.join(str(part) for part in loc) or 'report'}: {message}"
        for loc, message in validation_problems(err.errors())
    )


def error_summary(err: Exception) -> str:
    """Any error as one line; a validation error as its problems, each naming the field."""
    if isinstance(err, ValidationError):
        return "; ".join(format_validation_error(err).splitlines())
    return f"{type(err).__name__}: {err}"


# What `reports show --json` and the API's GET add to a report file: derived or set by the store.
# A report read back in with them is taken as the file it came from.
DERIVED_KEYS = frozenset(
    {"id", "slug", "cron", "job_name", "schedule_name", "dagster_url", "created_at", "updated_at",
     "snoozed_until", "snoozed_by", "source"}
)


def without_derived_keys(data: Any) -> Any:
    if isinstance(data, dict):
        return {key: value for key, value in data.items() if key not in DERIVED_KEYS}
    return data


def parse_report(data: Any) -> ReportSpec:
    """Validate a parsed report document; raises :class:`ReportValidationError`."""
    if not isinstance(data, dict):
        raise ReportValidationError("report: the file must hold one mapping (key: value pairs)")
    try:
        return ReportSpec.model_validate(without_derived_keys(data))
    except ValidationError as err:
        raise ReportValidationError(format_validation_error(err)) from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice (YAML would keep the last)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict:
    seen: dict = {}
    for key, value in pairs:
        if key in seen:
            raise ReportValidationError(f"report file: duplicate key {key!r}; keep one")
        seen[key] = value
    return seen


def load_report_text(text: str, source: str = "report file") -> ReportSpec:
    """Parse YAML or JSON text (JSON is valid YAML, but its errors read better as JSON)."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            data = json.loads(text, object_pairs_hook=_unique_pairs)
        except json.JSONDecodeError as err:
            raise ReportValidationError(
                f"{source}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})"
            ) from None
    else:
        try:
            data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise ReportValidationError(f"{source}: not valid YAML{where}: {err}") from None
    if data is None:
        raise ReportValidationError(f"{source}: the file is empty")
    return parse_report(data)
