"""Pre-flight: everything that can refuse a run is checked before the run exists.

    procedure   loaded and validated (file:line of every problem)       by the caller
    lab         the lab file and its register of reference standards     by the caller
    instruments under the instrument locks: open, *IDN? (the model's identity pattern), the
                register entry of the standard (listed, not overdue), then safe and closed

The locks stay held for the ``with`` block, so nothing can take the instruments between the
checks and the run (the Prefect flow holds them for the whole flow run; its tasks reopen the
instruments under the same, re-entrant, locks).  Only then is the run folder created: a run
refused at start leaves nothing behind.
"""
from __future__ import annotations

from contextlib import ExitStack, contextmanager
from typing import Any, Callable, Iterator

from labauto.drivers.identity import Identity
from labauto.engine.locks import InstrumentLocks, open_locked
from labauto.errors import LabautoError
from labauto.procedure import Procedure

DUT, STANDARD = "the item (DUT)", "the reference standard"     # how messages name the roles


class StartRefused(LabautoError):
    """A run could not start: bad procedure or lab file, unreachable, wrong or busy instrument,
    standard not usable.  Nothing was measured and no run folder was created."""


@contextmanager
def reserved_instruments(run_id: str, procedure: Procedure, dut_resource: str,
                         standard_resource: str, *, timeout_ms: int = 10000,
                         check_identities: Callable[[dict[str, Identity]], None] | None = None,
                         resource_manager: Any = None) -> Iterator[dict[str, Identity]]:
    """Check DUT and standard under run ``run_id``'s instrument locks and keep the locks for the
    ``with`` block; yields ``{"item": Identity, "reference": Identity}``."""
    with InstrumentLocks(run_id) as locks:
        with ExitStack() as stack:
            dut = open_locked(stack, locks, DUT, dut_resource, procedure.dut_model,
                              timeout_ms=timeout_ms, resource_manager=resource_manager)
            std = open_locked(stack, locks, STANDARD, standard_resource, procedure.standard_model,
                              timeout_ms=timeout_ms, resource_manager=resource_manager)
            identities = {"item": dut.identity, "reference": std.identity}
            if check_identities is not None:
                check_identities(identities)
        yield identities            # instruments safe and closed, still locked
