"""What flag evaluation reads of cohorts from the cohort store: kept briefly,
read again after ``KEPT_SECONDS`` (a clock the test moves)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from magpie.flags.stored_cohorts import KEPT_SECONDS, StoredCohorts
from tests.harness import Ingest

PRO = {
    "properties": {
        "type": "OR",
        "values": [{"type": "AND", "values": [{"key": "plan", "type": "person", "value": "pro"}]}],
    }
}


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ingest(tmp_path: Path) -> Iterator[Ingest]:
    made = Ingest(tmp_path / "data")
    yield made
    made.close()


def test_a_cohort_is_read_once_then_again_after_a_while(ingest: Ingest) -> None:
    service = ingest.magpie.cohorts
    project = ingest.project_id
    pro = service.create(project, "Pro", "", PRO)
    static = service.create(project, "Beta", "", {}, is_static=True)
    ticks = Ticks()
    cohorts = StoredCohorts(ingest.magpie.cohort_membership, monotonic=ticks)
    assert cohorts.exists(project, pro.id) and cohorts.exists(project, static.id)
    assert cohorts.property_filters(project, pro.id) == PRO["properties"]
    assert cohorts.property_filters(project, static.id) is None  # only membership answers
    assert not cohorts.exists(project, 999)
    service.update(project, pro.id, deleted=True)
    assert cohorts.exists(project, pro.id)  # kept
    ticks.now = KEPT_SECONDS + 1
    assert not cohorts.exists(project, pro.id)
    assert cohorts.property_filters(project, pro.id) is None
