"""Quality floors that only move up: shared by the golden-fixture and real-page gates."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def committed(path: Path) -> dict[str, Any] | None:
    """The floors file as committed at HEAD (None outside a git checkout, or when new)."""
    try:
        shown = subprocess.run(
            ["git", "show", f"HEAD:{path.relative_to(ROOT).as_posix()}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if shown.returncode != 0:
        return None
    return dict(json.loads(shown.stdout))


def assert_not_lowered(path: Path, allow_env: str) -> None:
    """No floor below its committed value unless ``allow_env=1`` and a ``reason`` is given."""
    current = json.loads(path.read_text("utf-8"))
    assert all(0.0 <= v <= 1.0 for v in current["floors"].values())
    before = committed(path)
    if before is None:  # nothing to compare with
        return
    lowered = {
        f: (before["floors"][f], v)
        for f, v in current["floors"].items()
        if f in before["floors"] and v < before["floors"][f]
    }
    if lowered:
        assert os.environ.get(allow_env) == "1", (
            f"floors lowered {lowered}: run with {allow_env}=1 and give a reason"
        )
        assert str(current.get("reason", "")).strip(), "lowering a floor needs a 'reason'"
