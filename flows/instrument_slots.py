"""Instrument slots: one Prefect global concurrency limit per instrument (limit 1), held by the
flow run that drives it, so two flow runs never drive one instrument, wherever they run.

Slot names follow the instrument file locks of :mod:`labauto.engine.locks`, which stay (they
guard runs on one machine with or without Prefect):

    instrument-resource-<VISA resource>             taken before the first command is sent
    instrument-identity-<maker>_<model>_<serial>    taken once ``*IDN?`` has answered (the same
                                                    instrument reached through two addresses)

A flow run takes the resource slots of all its instruments in one request (all or none: two
flows needing the same two instruments never hold one each), checks the instruments, takes
their identity slots, and keeps every slot until its last point's instruments are safe and
closed (a run paused for the technician keeps them).  A second flow run on a busy bench waits
(``instrument_wait_s``) and says so in its log, naming the flow run that holds the bench: a
holder marks itself with the tag ``holds:<slot>``, which the waiting run looks up among the
running and paused flow runs.  Flow runs on different benches share no slot and run in
parallel.

Every flow that drives instruments holds them this way (:class:`InstrumentSlots`):
``calibrate`` (DUT, standard, environment logger), ``temperature-comparison`` (readout, heat
sources, DMM, environment logger: the resource slots, then the identity slots once its
pre-flight has identified the instruments, before its first task; the environment logger's
identity once a task has recorded it) and ``check-standard`` (the meter reading the check
standard: its resource slot and, from the register's item, its identity slot, in one request).

Slots need a Prefect server (``PREFECT_API_URL``: ``labauto lab up``, or the test harness).
Prefect's throw-away embedded server keeps slot leases in its own process: a run killed there
would leave its slots taken for good, so without a server the file locks alone guard the
instruments (one machine).
"""
from __future__ import annotations

import logging
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from labauto.engine.locks import InstrumentBusy, identity_key, resource_key
from labauto.errors import LabautoError

SLOT_PREFIX = "instrument-"
HOLDS_TAG = "holds:"
LEASE_TAG = "lease:"
LEASE_S = 60.0        # a holder that dies (SIGKILL) frees its slots after at most this long


def release_leases(flow_run: Any) -> list[str]:
    """Release the slots of a flow run whose process is gone (its ``lease:`` tags), at once
    rather than when their leases run out (flows/recovery.py; only for a dead holder)."""
    from uuid import UUID

    from prefect.client.orchestration import get_client

    released = []
    with get_client(sync_client=True) as client:
        for tag in flow_run.tags or []:
            if tag.startswith(LEASE_TAG):
                client.release_concurrency_slots_with_lease(UUID(tag[len(LEASE_TAG):]))
                released.append(tag[len(LEASE_TAG):])
    return released


@contextmanager
def _leased(names: list[str], *, timeout_s: float | None, holder: Any,
            on_lease: Any) -> Iterator[None]:
    """Prefect's ``concurrency(names, strict=True, lease_duration=LEASE_S, holder=holder)``
    (prefect/concurrency/_sync.py, 3.8), telling ``on_lease`` the lease id: the flow run
    records it (tag ``lease:<id>``) so that a recovery that finds its process dead can release
    its slots at once (:func:`release_leases`).  The release goes through the flow run's own
    client (Prefect's ``release_concurrency_slots_with_lease`` builds a new client, with its
    TLS certificate store, for each: 60 ms of CPU, more under load)."""
    from prefect.client.orchestration import get_client
    from prefect.concurrency._asyncio import _discard_cleanup_lease
    from prefect.concurrency._events import (emit_concurrency_acquisition_events,
                                             emit_concurrency_release_events)
    from prefect.concurrency._leases import maintain_concurrency_lease
    from prefect.concurrency._sync import acquire_concurrency_slots_with_lease

    got = acquire_concurrency_slots_with_lease(names, 1, timeout_seconds=timeout_s, strict=True,
                                               lease_duration=LEASE_S, holder=holder)
    events = emit_concurrency_acquisition_events(got.limits, 1)
    on_lease(got.lease_id)
    try:
        with maintain_concurrency_lease(got.lease_id, LEASE_S,
                                        raise_on_lease_renewal_failure=True):
            yield
    finally:
        with get_client(sync_client=True) as client:
            client.release_concurrency_slots_with_lease(got.lease_id)
        _discard_cleanup_lease(got.lease_id)
        emit_concurrency_release_events(got.limits, 1, events)


def resource_slot(resource: str) -> str:
    """The slot of the instrument at ``resource`` (``resource_key`` of the file locks)."""
    return SLOT_PREFIX + resource_key(resource)


def identity_slot(manufacturer: str, model: str, serial: str) -> str:
    return SLOT_PREFIX + identity_key(manufacturer, model, serial)


def unreachable(exc: BaseException) -> str | None:
    """A user's sentence when ``exc`` says the Prefect server cannot be reached, else None."""
    import httpx

    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout)) or (
            # what Prefect's client raises when a flow is called with no server at the URL
            isinstance(exc, RuntimeError) and str(exc).startswith("Failed to reach API")):
        return (f"cannot reach the Prefect server at {server_url()}: {exc}; is it running "
                "(`labauto lab up`) and is PREFECT_API_URL right?")
    return None


def server_url() -> str | None:
    """The Prefect server this process talks to (None: the embedded throw-away server)."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return str(url) if url else None


@dataclass(frozen=True)
class Holder:
    """A flow run holding a slot."""

    flow_run_id: str
    flow_run_name: str
    state: str
    labauto_run: str

    def describe(self) -> str:
        run = f", labauto run {self.labauto_run}" if self.labauto_run else ""
        return f"flow run {self.flow_run_name!r} ({self.flow_run_id}, {self.state.lower()}{run})"


def holders(slot: str) -> list[Holder]:
    """The running or paused flow runs that hold ``slot``."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (FlowRunFilter, FlowRunFilterState,
                                                FlowRunFilterStateType, FlowRunFilterTags)
    from prefect.client.schemas.objects import StateType

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            tags=FlowRunFilterTags(all_=[HOLDS_TAG + slot]),
            state=FlowRunFilterState(type=FlowRunFilterStateType(
                any_=[StateType.RUNNING, StateType.PAUSED, StateType.PENDING]))))
    found = []
    for r in runs:
        run_tag = next((t[len("run:"):] for t in r.tags if t.startswith("run:")), "")
        found.append(Holder(str(r.id), r.name, r.state_type.value if r.state_type else "?", run_tag))
    return found


def ensure_limits(names: Iterable[str]) -> list[str]:
    """Create the slots that do not exist yet (limit 1); a slot set to more than one holder or
    made inactive is set back to one active holder (an instrument has one driver).  Returns the
    slots taken at this moment."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import (GlobalConcurrencyLimitCreate,
                                                GlobalConcurrencyLimitUpdate)
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    busy = []
    with get_client(sync_client=True) as client:
        for name in names:
            try:
                limit = client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                try:
                    client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
                except ObjectAlreadyExists:      # another run created it meanwhile
                    busy.append(name)
                continue
            if limit.limit != 1 or not limit.active:
                client.update_global_concurrency_limit(
                    name, GlobalConcurrencyLimitUpdate(limit=1, active=True))
            if limit.active_slots >= 1:
                busy.append(name)
    return busy


def _recorded_identities(instruments: dict[str, dict[str, Any]]) -> dict[str, str]:
    """``{identity slot: what}`` of ``{role: {"manufacturer", "model", "serial"}}``."""
    return {identity_slot(r["manufacturer"], r["model"], r["serial"]):
            f"the {role} instrument {r['manufacturer']} {r['model']} serial {r['serial']}"
            for role, r in instruments.items() if r.get("manufacturer") and r.get("serial")}


class InstrumentSlots:
    """The instrument slots of one flow run, released in reverse order on ``close``/``with``
    exit.  Outside a flow run talking to a server it holds nothing (see the module text)."""

    def __init__(self, labauto_run: str, *, wait_s: float | None, log: Any = None):
        from prefect.context import FlowRunContext

        ctx = FlowRunContext.get()
        self.flow_run = ctx.flow_run if ctx is not None else None
        self.enabled = self.flow_run is not None and server_url() is not None
        self.labauto_run = labauto_run
        self.wait_s = wait_s
        self.log = log or logging.getLogger(__name__)
        self.held: list[str] = []
        self.leases: list[Any] = []          # the server's lease ids of the held slots
        self._stack = ExitStack()

    def __enter__(self) -> "InstrumentSlots":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        try:
            if self.held:                # (the tags say who holds; drop them first)
                self._tag(holding=False)
        except Exception as exc:  # noqa: BLE001 - the slots are released all the same
            self.log.warning("could not drop the holds: tags of this flow run: %s", exc)
        finally:
            self.held.clear()
            self._stack.close()
            self.leases.clear()

    def hold_resources(self, resources: dict[str, str | None]) -> None:
        """Hold the slots of ``{what: resource}`` (e.g. ``{"the item (DUT)": "TCPIP0::..."}``)."""
        self.hold_known_instruments(resources, {})

    def hold_identities(self, identities: dict[str, Any]) -> None:
        """Hold the slots of identified instruments (``{role: Identity}``)."""
        self._hold({identity_slot(i.manufacturer, i.model, i.serial):
                    f"the {role} instrument {i.manufacturer} {i.model} serial {i.serial}"
                    for role, i in identities.items() if i is not None})

    def hold_recorded_identities(self, instruments: dict[str, dict[str, Any]]) -> None:
        """Hold the identity slots of the instruments a run's journal records (``{role: record}``
        with ``manufacturer``, ``model``, ``serial``: e.g. ``temperature-comparison``)."""
        self._hold(_recorded_identities(instruments))

    def hold_known_instruments(self, resources: dict[str, str | None],
                               instruments: dict[str, dict[str, Any]]) -> None:
        """Hold, in one request (all or none), the resource slots of ``resources`` and the
        identity slots of ``instruments`` (``{role: record}``) known before any command is sent
        (e.g. the register's item of a ``check-standard`` run)."""
        self._hold({**{resource_slot(r): f"{what} at {r}" for what, r in resources.items() if r},
                    **_recorded_identities(instruments)})

    def _hold(self, wanted: dict[str, str]) -> None:
        names = sorted(n for n in wanted if n not in self.held)
        if not self.enabled or not names:
            return
        from prefect.client.schemas.objects import ConcurrencyLeaseHolder
        from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError

        busy = ensure_limits(names)
        if busy:
            waiting = "as long as it takes" if self.wait_s is None else f"up to {self.wait_s:g} s"
            self.log.warning("bench busy: %s; waiting %s for it (labauto run %s)",
                             self._describe_busy(busy, wanted), waiting, self.labauto_run)
        holder = ConcurrencyLeaseHolder(type="flow_run", id=self.flow_run.id)
        try:        # all the slots in one request: all or none
            self._stack.enter_context(_leased(
                names, timeout_s=self.wait_s, holder=holder, on_lease=self.leases.append))
        except TimeoutError:
            raise InstrumentBusy(
                f"{self._describe_busy(names, wanted)}; gave up after waiting {self.wait_s:g} s "
                "(flow parameter instrument_wait_s). Nothing was measured; start the flow run "
                "again when the bench is free") from None
        except ConcurrencySlotAcquisitionError as exc:
            raise LabautoError(f"cannot take the instrument slots {', '.join(names)} on the "
                               f"Prefect server {server_url()}: {exc}; nothing was measured") from exc
        if busy:
            self.log.warning("bench free: instrument slots %s taken by labauto run %s",
                             ", ".join(names), self.labauto_run)
        self.held.extend(names)
        self._tag()

    def _describe_busy(self, names: list[str], wanted: dict[str, str]) -> str:
        by_holder: dict[str, list[str]] = {}
        for name in (n for n in wanted if n in names):       # in the caller's order
            who = " and ".join(h.describe() for h in holders(name)) or "another flow run"
            by_holder.setdefault(who, []).append(wanted[name])
        return "; ".join(f"{' and '.join(what)} {'is' if len(what) == 1 else 'are'} held by {who}"
                         for who, what in by_holder.items())

    def _tag(self, holding: bool = True) -> None:
        """Mark the flow run as the holder of its slots (tags ``holds:<slot>``, ``run:<id>``),
        or (``holding=False``) drop the ``holds:`` tags."""
        from prefect.client.orchestration import get_client

        kept = [t for t in (self.flow_run.tags or []) if not t.startswith((HOLDS_TAG, LEASE_TAG))]
        tags = list(dict.fromkeys([*kept, f"run:{self.labauto_run}",
                                   *(HOLDS_TAG + n for n in (self.held if holding else [])),
                                   *(f"{LEASE_TAG}{i}" for i in (self.leases if holding else []))]))
        with get_client(sync_client=True) as client:
            client.update_flow_run(self.flow_run.id, tags=tags)
        self.flow_run.tags = tags
