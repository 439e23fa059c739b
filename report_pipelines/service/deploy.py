"""The files of a deployment: the workspace for K code servers, each holding one shard."""

from __future__ import annotations

import yaml

from report_pipelines.names import CODE_LOCATION, SHARD_ENV, Shard


def sharded_workspace(count: int, host: str, first_port: int) -> str:
    """A ``grpc_server`` workspace for ``count`` code servers (ports ``first_port`` upwards), with
    the command that starts each one in a comment. ``count`` 1 is the unsharded location."""
    entries, commands = [], []
    for index in range(count):
        port = first_port + index
        name = CODE_LOCATION if count == 1 else Shard(index, count).location_name
        entries.append({"grpc_server": {"host": host, "port": port, "location_name": name}})
        env = "" if count == 1 else f"{SHARD_ENV}={index}/{count} "
        commands.append(
            f"#   {env}dagster code-server start -m report_pipelines.definitions -a defs "
            f"--location-name {name} -h 0.0.0.0 -p {port}"
        )
    header = (
        f"# {count} code server(s) sharing the report table"
        + (f" (report id modulo {count} picks the shard)" if count > 1 else "")
        + ". Start each on its host, then the webserver and the daemon with this file:\n"
    )
    return header + "\n".join(commands) + "\n" + yaml.safe_dump({"load_from": entries}, sort_keys=False)


def initialize_pools() -> list[str]:
    """Write the report ops' pools into the instance's storage at their default limit.

    A pool's row is otherwise created by the first run that claims a slot in it; on PostgreSQL
    the first runs of a burst on a new deployment race to insert it and the losers fail
    (duplicate key in concurrency_limits). Run once after `dagster instance migrate`.
    """
    import dagster as dg

    from report_pipelines.names import POOLS

    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        if not storage.supports_global_concurrency_limits:
            return []
        for pool in POOLS:
            storage.initialize_concurrency_limit_to_default(pool)
    return list(POOLS)
