"""Report validation: every refusal names the field; every accepted shape maps to the right cron."""

from __future__ import annotations

import copy

import pytest
import yaml

from report_pipelines.models import ReportValidationError, slugify
from report_pipelines.report_files import load_report_text, parse_report
from report_pipelines_tests.conftest import REPORTS

VALID = yaml.safe_load((REPORTS / "valid.yaml").read_text())


def with_changes(**paths) -> dict:
    data = copy.deepcopy(VALID)
    for path, value in paths.items():
        target = data
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[key]
        if value is DELETE:
            target.pop(keys[-1])
        else:
            target[keys[-1]] = value
    return data


DELETE = object()


@pytest.mark.parametrize(
    ("changes", "field", "phrase"),
    [
        ({"name": ""}, "name", "at least 1 character"),
        ({"name": "!!!"}, "name", "letter or digit"),
        ({"name": "x" * 121}, "name", "at most 120"),
        ({"query": DELETE}, "query", "required"),
        ({"query": ""}, "query", "at least 1 character"),
        ({"user_id": DELETE}, "user_id", "required"),
        ({"schedule__frequency": "hourly"}, "schedule.frequency", "daily"),
        ({"schedule__time": "24:00"}, "schedule.time", "00:00 and 23:59"),
        ({"schedule__time": "09:60"}, "schedule.time", "00:00 and 23:59"),
        ({"schedule__time": "nine"}, "schedule.time", "HH:MM"),
        ({"schedule__timezone": "Mars/Olympus"}, "schedule.timezone", "IANA"),
        ({"schedule__timezone": "europe/london"}, "schedule.timezone", "IANA"),
        ({"schedule__start_date": "2026-02-30"}, "schedule.start_date", "date"),
        ({"schedule__frequency": DELETE, "schedule__cron": "61 * * * *"}, "schedule.cron", "cron"),
        ({"schedule__frequency": DELETE, "schedule__cron": "* * *"}, "schedule.cron", "cron"),
        ({"schedule__cron": "0 9 * * *"}, "schedule", "not both"),
        ({"schedule__frequency": DELETE}, "schedule", "frequency"),
        ({"schedule__frequency": "weekly", "schedule__day_of_week": 7}, "schedule.day_of_week", "0 (Monday)"),
        ({"schedule__frequency": "weekly", "schedule__day_of_week": "funday"}, "schedule.day_of_week", "weekday"),
        ({"schedule__frequency": "monthly", "schedule__day_of_month": 0}, "schedule.day_of_month", "1-28"),
        ({"schedule__frequency": "monthly", "schedule__day_of_month": 29}, "schedule.day_of_month", "1-28"),
        ({"schedule__day_of_month": 3}, "schedule", "only to monthly"),
        ({"analysis__mode": "turbo"}, "analysis.mode", "quick"),
        ({"analysis__audience": "everyone"}, "analysis.audience", "analyst"),
        ({"slack_config__slack_channel": DELETE}, "slack_config", "needs slack_channel"),
        ({"slack_config": {"notification_type": "dm"}}, "slack_config", "needs slack_user_id"),
        ({"slack_config__notification_type": "email"}, "slack_config.notification_type", "none"),
        ({"colour": "blue"}, "colour", "unknown key"),
        ({"schedule__every": "day"}, "schedule.every", "unknown key"),
    ],
)
def test_invalid_reports_name_the_field(changes, field, phrase):
    with pytest.raises(ReportValidationError) as err:
        parse_report(with_changes(**changes))
    message = str(err.value)
    assert any(line.startswith(f"{field}:") for line in message.splitlines()), message
    assert phrase in message


@pytest.mark.parametrize(
    ("schedule", "cron"),
    [
        ({"frequency": "daily", "time": "09:00"}, "0 9 * * *"),
        ({"frequency": "daily", "time": "0:05"}, "5 0 * * *"),
        ({"frequency": "daily", "time": "23:59"}, "59 23 * * *"),
        ({"frequency": "weekly", "time": "08:30"}, "30 8 * * 1"),
        ({"frequency": "weekly", "time": "08:30", "day_of_week": "sun"}, "30 8 * * 0"),
        ({"frequency": "weekly", "time": "08:30", "day_of_week": 4}, "30 8 * * 5"),
        ({"frequency": "monthly", "time": "07:00", "day_of_month": 28}, "0 7 28 * *"),
        ({"frequency": "monthly", "time": "07:00", "day_of_month": "last"}, "0 7 L * *"),
        ({"frequency": "monthly", "time": "07:00"}, "0 7 1 * *"),
        ({"cron": "0  9 * * 1-5"}, "0 9 * * 1-5"),
    ],
)
def test_schedules_map_to_cron(schedule, cron):
    data = with_changes(schedule={"timezone": "UTC", **schedule})
    assert parse_report(data).schedule.cron_schedule == cron


def test_name_boundary_and_slug():
    assert parse_report(with_changes(name="x" * 120)).slug == "x" * 120
    assert slugify("  Daily Sales — Report (EU)! ") == "daily_sales_report_eu"


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("name: [unclosed", "not valid YAML (line 1"),
        ('{"name": "x",', "not valid JSON (line 1"),
        ("", "empty"),
        ("- a\n- b\n", "one mapping"),
        ("just a string", "one mapping"),
    ],
)
def test_unparseable_files(text, phrase):
    with pytest.raises(ReportValidationError) as err:
        load_report_text(text, source="bad.yaml")
    assert phrase in str(err.value)


def test_json_and_yaml_give_the_same_report():
    import json

    as_json = load_report_text(json.dumps(VALID))
    as_yaml = load_report_text((REPORTS / "valid.yaml").read_text())
    assert as_json == as_yaml
