"""Entry point of a measurement process: ``python -m benchmarks.worker MODULE:FUNCTION PARAMS RESULT``.

The function is called with the JSON object in PARAMS as keyword arguments; its JSON-able return
value is written to RESULT.
"""

from __future__ import annotations

import importlib
import json
import signal
import sys
import warnings
from pathlib import Path

from benchmarks.harness import BenchmarkError


def _stop(signum: int, frame: object) -> None:
    # SystemExit unwinds through the measurement's finally blocks, which stop the servers it
    # started; the default SIGTERM action would leave them running.
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> int:
    target, params_path, result_path = argv
    signal.signal(signal.SIGTERM, _stop)
    # Dagster's preview and beta warnings would bury the worker's own log.
    warnings.filterwarnings("ignore")
    module_name, function_name = target.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    try:
        result = function(**json.loads(Path(params_path).read_text()))
    except BenchmarkError as err:
        # The parent reports this message as the reason; the traceback stays in the log.
        Path(result_path).with_suffix(".error").write_text(str(err))
        raise
    Path(result_path).write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
