"""A zero-latency simulated lab per test (fresh state, free ports, stopped afterwards)."""
from __future__ import annotations

import pytest

from labauto.sim import SimulatedLab


@pytest.fixture()
def lab():
    with SimulatedLab(seed=1, latency="zero") as running:
        yield running
