"""Shards: K code locations share the report table, each holding the reports whose id modulo K
is its index; the CLI, the API and live sync find a report's location by its id."""

from __future__ import annotations

import os

import dagster as dg
import pytest
import yaml
from click.testing import CliRunner
from dagster._core.definitions.definitions_load_context import DefinitionsLoadContext, DefinitionsLoadType

from report_pipelines import definitions as definitions_module
from report_pipelines.cli import main
from report_pipelines.names import Shard, current_shard, is_report_location, location_for_report
from report_pipelines.report_files import load_report_text

REPORT = "name: Shard Report {n}\nquery: SELECT {n} AS n\nuser_id: ops\nschedule: {{frequency: daily, time: \"07:00\"}}\n"


def load_location():
    context = DefinitionsLoadContext(load_type=DefinitionsLoadType.INITIALIZATION, repository_load_data=None)
    with DefinitionsLoadContext.scoped(context):
        return definitions_module.defs(), dict(context.get_pending_reconstruction_metadata())


@pytest.fixture
def six_reports(demo_store):
    for n in range(3):
        demo_store.add(load_report_text(REPORT.format(n=n)))
    return {report.id: f"report_{report.slug}" for report in demo_store.list()}


def report_jobs(repo) -> set[str]:
    return {name for name in repo.job_names if name.startswith("report_")}


def test_shards_split_the_reports_by_id_and_together_hold_them_all(six_reports, monkeypatch, instance):
    held = []
    for index in range(2):
        monkeypatch.setenv("REPORT_PIPELINES_SHARD", f"{index}/2")
        repo, metadata = load_location()
        jobs = report_jobs(repo)
        assert jobs == {job for report_id, job in six_reports.items() if report_id % 2 == index}
        assert {s.name for s in repo.schedule_defs if s.name.startswith("report_")} == {f"{j}_schedule" for j in jobs}
        # Each shard keeps its own table in step; the deployment-wide chores run in shard 0 only.
        assert repo.has_sensor_def("report_table_sensor") and repo.has_job("reload_report_definitions")
        assert repo.has_job("retention") == (index == 0) and repo.has_job("health") == (index == 0)
        # A run worker of this shard rebuilds the same slice from its stored state.
        monkeypatch.setattr(definitions_module, "_LOADED", {})
        data = definitions_module.DefinitionStates().load(metadata[definitions_module.STATE_KEY])
        assert {f"report_{row['slug']}" for row in data["rows"]} == jobs
        held.append(jobs)
    assert held[0].isdisjoint(held[1]) and held[0] | held[1] == set(six_reports.values())


def test_the_table_sensor_of_a_shard_only_reloads_for_its_own_reports(six_reports, demo_store, monkeypatch, instance):
    monkeypatch.setenv("REPORT_PIPELINES_SHARD", "0/2")
    repo, _ = load_location()
    sensor = repo.get_sensor_def("report_table_sensor")
    added = demo_store.add(load_report_text(REPORT.format(n=7)))
    result = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, repository_def=repo))
    if added.id % 2 == 0:
        assert len(result.run_requests) == 1
    else:
        assert not result.run_requests and "match" in result.skip_message
    other = demo_store.add(load_report_text(REPORT.format(n=8)))
    assert other.id % 2 != added.id % 2
    result = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, repository_def=repo))
    assert len(result.run_requests) == 1  # one of the two was this shard's


@pytest.mark.parametrize("raw", ["2/2", "1", "a/b", "-1/3", "1/0"])
def test_a_bad_shard_setting_says_what_to_write(raw, monkeypatch):
    monkeypatch.setenv("REPORT_PIPELINES_SHARD", raw)
    with pytest.raises(ValueError, match=r"REPORT_PIPELINES_SHARD=.* must be i/K with 0 <= i < K"):
        current_shard()


def test_a_report_is_found_in_its_shard():
    names = [Shard(i, 3).location_name for i in range(3)]
    assert location_for_report(7, names) == "report_pipelines_shard_1_of_3"
    assert location_for_report(9, names) == "report_pipelines_shard_0_of_3"
    assert location_for_report(7, ["report_pipelines"]) == "report_pipelines"
    assert all(is_report_location(name) for name in names) and not is_report_location("other_shard_0_of_3")


def test_deploy_workspace_prints_a_workspace_dagster_accepts(tmp_path):
    from dagster._core.workspace.config_schema import ensure_workspace_config

    result = CliRunner().invoke(main, ["deploy", "workspace", "--shards", "3", "--host", "10.0.0.5", "--port", "5000"])
    assert result.exit_code == 0, result.output
    config = yaml.safe_load(result.output)
    ensure_workspace_config(config, str(tmp_path))
    servers = [entry["grpc_server"] for entry in config["load_from"]]
    assert [(s["host"], s["port"], s["location_name"]) for s in servers] == [
        ("10.0.0.5", 5000 + i, f"report_pipelines_shard_{i}_of_3") for i in range(3)
    ]
    for i in range(3):
        assert f"REPORT_PIPELINES_SHARD={i}/3 dagster code-server start" in result.output
    single = yaml.safe_load(CliRunner().invoke(main, ["deploy", "workspace"]).output)
    assert single["load_from"][0]["grpc_server"]["location_name"] == "report_pipelines"
    refused = CliRunner().invoke(main, ["deploy", "workspace", "--shards", "0"])
    assert refused.exit_code == 2 and "--shards" in refused.output


SHARDED_REPORT = """name: {name}
query: SELECT region, SUM(revenue) AS revenue FROM sales GROUP BY region ORDER BY region
user_id: alice
schedule: {{frequency: daily, time: "06:00", timezone: UTC, start_date: "2026-11-01"}}
slack_config: {{notification_type: channel, slack_channel: "#sales"}}
"""


@pytest.mark.integration
def test_two_code_servers_share_the_table(home, secret_key, tmp_path):
    """Two shards behind one webserver and daemon on PostgreSQL: each serves its reports, live
    sync reloads the right one, and runs and next-runs find reports in either."""
    import json
    import shutil

    from report_pipelines_tests.dagster_dev import REPO_QUERY, free_port, graphql
    from report_pipelines_tests.fakes.slack_api import FakeSlack
    from report_pipelines_tests.test_postgres import fresh_postgres_database
    from report_pipelines_tests.test_topology import BIN, ROOT, Topology, cli, dagster_cli, wait_for

    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    first_port, web_port = free_port(), free_port()
    ports = [first_port, first_port + 1]  # `deploy workspace` gives shard i the port first + i
    web = f"http://127.0.0.1:{web_port}"
    token = "xoxb-4266-shards"
    with fresh_postgres_database() as url, FakeSlack(tokens={token: "T0001"}) as slack:
        env = {**os.environ, "DAGSTER_PG_URL": url, "REPORT_STORE_URL": url, "DAGSTER_WEBSERVER_URL": web,
               "SLACK_API_URL": slack.url, "SLACK_BOT_TOKEN": token}  # fmt: skip
        topology = Topology(env, logs)
        try:
            assert dagster_cli(env, "instance", "migrate").returncode == 0
            printed = cli(env, "deploy", "workspace", "--shards", "2", "--port", str(ports[0]))
            assert printed.returncode == 0, printed.stderr
            (home / "workspace.yaml").write_text(printed.stdout)
            for args in (("init",), ("workspaces", "add", "--team-id", "T0001", "--team-name", "Acme")):
                assert cli(env, *args).returncode == 0
            slugs = {}
            for name in ("Shard Alpha", "Shard Beta"):
                path = tmp_path / f"{name}.yaml"
                path.write_text(SHARDED_REPORT.format(name=name))
                assert cli(env, "reports", "add", str(path)).returncode == 0
            for report in json.loads(cli(env, "reports", "list", "--json").stdout):
                slugs[report["slug"]] = report["id"]
            assert sorted(report_id % 2 for report_id in slugs.values()) == [0, 1]

            for index, port in enumerate(ports):
                topology.env = {**env, "REPORT_PIPELINES_SHARD": f"{index}/2"}
                topology.start(
                    f"code-server-{index}", str(BIN / "dagster"), "code-server", "start", "-m",
                    "report_pipelines.definitions", "-a", "defs", "--location-name", f"report_pipelines_shard_{index}_of_2",
                    "-h", "127.0.0.1", "-p", str(port),
                )  # fmt: skip
            topology.env = env
            workspace = str(home / "workspace.yaml")
            topology.start("webserver", str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(web_port))
            topology.start("daemon", str(BIN / "dagster-daemon"), "run", "-w", workspace)

            def jobs_by_location() -> dict[str, set[str]]:
                nodes = graphql(web, REPO_QUERY.replace("nodes {", "nodes { location { name }"))["repositoriesOrError"]["nodes"]
                return {node["location"]["name"]: {job["name"] for job in node["jobs"]} for node in nodes}

            def shard_of(slug: str) -> str:
                return f"report_pipelines_shard_{slugs[slug] % 2}_of_2"

            loaded = wait_for(topology, lambda: len(jobs_by_location()) == 2 and jobs_by_location(), "both shards", 180)
            for slug in slugs:
                assert f"report_{slug}" in loaded[shard_of(slug)]
                assert all(f"report_{slug}" not in jobs for name, jobs in loaded.items() if name != shard_of(slug))
            assert "retention" in loaded["report_pipelines_shard_0_of_2"] and "retention" not in loaded["report_pipelines_shard_1_of_2"]

            # next-runs reads the schedules of both shards.
            upcoming = json.loads(cli(env, "next-runs", "--json").stdout)
            assert {run["slug"] for run in upcoming} == set(slugs)

            # Live sync: a report added now appears in its own shard only.
            path = tmp_path / "gamma.yaml"
            path.write_text(SHARDED_REPORT.format(name="Shard Gamma"))
            assert cli(env, "reports", "add", str(path)).returncode == 0
            slugs["shard_gamma"] = json.loads(cli(env, "reports", "show", "shard_gamma", "--json").stdout)["id"]
            wait_for(topology, lambda: "report_shard_gamma" in jobs_by_location()[shard_of("shard_gamma")],
                     "the new report in its shard", 150)  # fmt: skip
            assert all("report_shard_gamma" not in jobs for name, jobs in jobs_by_location().items()
                       if name != shard_of("shard_gamma"))  # fmt: skip

            # Runs launched through the webserver find each report's shard.
            for slug in ("shard_alpha", "shard_beta"):
                done = cli(env, "run", slug, "--partition", "2026-11-20-06:00")
                assert done.returncode == 0, done.stdout + done.stderr
            texts = [post["text"] for post in slack.posts]
            assert sum("Shard Alpha" in text for text in texts) == 1 and sum("Shard Beta" in text for text in texts) == 1
        except BaseException:
            print(topology.tails())
            raise
        finally:
            topology.stop()
