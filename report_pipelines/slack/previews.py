"""The preview folder: what a run would have posted, when no Slack workspace is configured.

Each file is written beside its target and renamed into place, so a reader (the UI, a second
run of the same window) never sees half a file; files are readable by their owner only, because
previews carry query results.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def write_preview(
    folder: Path, slug: str, partition_key: str, payload: dict[str, Any], files: Sequence[tuple[str, bytes]] = ()
) -> Path:
    """Write the message a run would post to ``folder/<slug>/<partition>.json`` and return the path;
    ``files`` (name, bytes), such as the chart PNG and the CSV, go beside it.

    Each file is written beside its target and renamed into place, so a reader (the UI, a second
    run of the same partition) never sees half a file.
    """
    for part in (slug, partition_key, *(name for name, _ in files)):
        if not part or "/" in part or "\\" in part or part in (".", ".."):
            raise ValueError(f"{part!r} cannot be used as a preview file name")
    directory = Path(folder) / slug
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{partition_key.replace(':', '-')}.json"
    text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    _write_atomically(target, text.encode("utf-8"))
    for name, content in files:
        _write_atomically(directory / name, content)
    return target


def _write_atomically(target: Path, content: bytes) -> None:
    # mkstemp creates the file readable by its owner only; previews carry query results.
    descriptor, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
