"""A repository whose report jobs *and* schedules are built on first access.

Dagster's ``CachingRepositoryData`` takes jobs as callables and builds them on demand, but builds
every schedule when it is constructed (to validate them), which at 10,000 reports costs a run
worker about half a second for schedules it never uses. This ``RepositoryData`` (the documented
way to control lazy creation) keeps Dagster's ``CachingRepositoryData`` for jobs, sensors and the
maintenance schedules, and adds the report schedules as named loaders:

- a code server calls ``load_all_definitions()`` when it loads the location, building everything
  once for its snapshots;
- a run worker asks only ``get_job(name)``: one job is built, no schedule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import dagster as dg
from dagster._core.definitions.repository_definition import CachingRepositoryData

ScheduleLoader = Callable[[], dg.ScheduleDefinition]


class LazyReportRepositoryData(dg.RepositoryData):
    def __init__(
        self,
        jobs: Mapping[str, dg.JobDefinition | Callable[[], dg.JobDefinition]],
        report_schedules: Mapping[str, dg.ScheduleDefinition | ScheduleLoader],
        other_schedules: Sequence[dg.ScheduleDefinition],
        sensors: Sequence[dg.SensorDefinition],
    ):
        self._data = CachingRepositoryData.from_dict(
            {
                "jobs": dict(jobs),
                "schedules": {schedule.name: schedule for schedule in other_schedules},
                "sensors": {sensor.name: sensor for sensor in sensors},
            }
        )
        self._report_schedules = dict(report_schedules)
        self._built: dict[str, dg.ScheduleDefinition] = {}

    # Jobs, sensors and the rest: Dagster's own caching index.
    def get_top_level_resources(self):
        return self._data.get_top_level_resources()

    def get_env_vars_by_top_level_resource(self):
        return self._data.get_env_vars_by_top_level_resource()

    def get_all_jobs(self) -> Sequence[dg.JobDefinition]:
        return self._data.get_all_jobs()

    def get_job_names(self) -> Sequence[str]:
        return self._data.get_job_names()

    def has_job(self, job_name: str) -> bool:
        return self._data.has_job(job_name)

    def get_job(self, job_name: str) -> dg.JobDefinition:
        return self._data.get_job(job_name)

    def get_all_sensors(self) -> Sequence[dg.SensorDefinition]:
        return self._data.get_all_sensors()

    def get_sensor_names(self) -> Sequence[str]:
        return self._data.get_sensor_names()

    def get_sensor(self, sensor_name: str) -> dg.SensorDefinition:
        return self._data.get_sensor(sensor_name)

    def has_sensor(self, sensor_name: str) -> bool:
        return self._data.has_sensor(sensor_name)

    # Schedules: the maintenance ones from the index, the reports' built when first asked for.
    def get_schedule_names(self) -> Sequence[str]:
        return [*self._data.get_schedule_names(), *self._report_schedules]

    def get_all_schedules(self) -> Sequence[dg.ScheduleDefinition]:
        return [*self._data.get_all_schedules(), *(self.get_schedule(name) for name in self._report_schedules)]

    def has_schedule(self, schedule_name: str) -> bool:
        return schedule_name in self._report_schedules or self._data.has_schedule(schedule_name)

    def get_schedule(self, schedule_name: str) -> dg.ScheduleDefinition:
        if schedule_name not in self._report_schedules:
            return self._data.get_schedule(schedule_name)
        schedule = self._built.get(schedule_name)
        if schedule is None:
            entry = self._report_schedules[schedule_name]
            schedule = entry if isinstance(entry, dg.ScheduleDefinition) else entry()
            self._built[schedule_name] = schedule
        return schedule
