"""Quality gate on real saved pages: the development set in ``../shared/devset/``.

``bench/realpages.py`` runs the page pipeline over the development set's pages
and compares every field with the hand-made labels.  Each field's share of
exact matches must stay at or above its floor in ``tests/realpages_floors.json``.
Raising a floor is free (``python bench/realpages.py --update-floors``);
lowering one needs ``REALPAGES_ALLOW_LOWER=1`` and a ``reason`` in the file,
as for ``tests/golden_floors.json``.

The pages are third-party content and are read in place; where the folder is
absent the gate is skipped with that reason.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import realpages  # noqa: E402
from floors import assert_not_lowered  # noqa: E402

FLOORS = ROOT / "tests" / "realpages_floors.json"
DEVSET = realpages.devset_dir()


def _floors() -> dict[str, Any]:
    return json.loads(FLOORS.read_text("utf-8"))


@pytest.fixture(scope="module")
def scores() -> dict[str, float]:
    if not (DEVSET / "gold.json").is_file():
        pytest.skip(f"no development set at {DEVSET} (gold.json missing)")
    return realpages.score_devset(DEVSET).scores()


def test_every_field_has_a_floor() -> None:
    assert set(_floors()["floors"]) == {*realpages.FIELDS, "full_bodies"}


def test_scores_meet_the_pinned_floors(scores: dict[str, float]) -> None:
    """Every field, and ``full_bodies`` (pages whose body is not empty or cut short)."""
    floors = _floors()["floors"]
    below = {f: (scores[f], v) for f, v in floors.items() if scores[f] < v - 1e-9}
    assert not below, f"real-page scores below their floors (score, floor): {below}"


def test_floors_are_not_lowered_without_a_reason() -> None:
    assert_not_lowered(FLOORS, "REALPAGES_ALLOW_LOWER")
