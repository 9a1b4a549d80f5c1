"""The main job on embedded defaults: a simulated lab, the reference platform, one calibration.

    simulated 34465A + 5522A on loopback SCPI sockets  (labauto.sim)
    reference NQI platform on loopback, SQLite           (labauto.platform.server), if the PTB
                                                         DCC schemas are available
    procedures/keysight_34465a_dcv.yaml through the Prefect flow 'calibrate'
    -> certificate PDF + signed DCC XML + JSON -> outbox -> platform -> verified

Everything it writes stays in its working folder (``--workdir``, default ``out/demo``): the
lab home (demo keys, outbox) is ``<workdir>/home``, the platform's database and the demo lab's
API token are beside it, and so are Prefect's embedded server database and matplotlib's cache
unless PREFECT_HOME / PREFECT_API_URL / MPLCONFIGDIR say otherwise.  It runs any number of
times in a row in the same folder, each run issuing a new certificate.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import httpx
from rich.console import Console
from rich.markup import escape

from labauto.config import PROJECT_ROOT
from labauto.labhome import LabHome, use_lab_home
from labauto.lab import DEFAULT_LAB_FILE, load_lab
from labauto.procedure import load_procedure
from labauto.sim.lab import lab_for_procedure

DEFAULT_PROCEDURE = PROJECT_ROOT / "procedures" / "keysight_34465a_dcv.yaml"


def heading(console: Console, title: str) -> None:
    """The demo's title: a rule across a terminal; in a pipe or a file (where rich assumes 80
    columns and would cut the title short with an ellipsis) the whole title on one line."""
    if console.is_terminal:
        console.rule(f"[bold]{escape(title)}")
    else:
        console.print(f"── [bold]{escape(title)}[/bold] ──", soft_wrap=True)


def run_demo(console: Console, *, workdir: Path, procedure: Path | None, latency: str, seed: int,
             use_prefect: bool, with_platform: bool, out_of_tolerance: str | None,
             execute: Callable[..., Any], report: Callable[..., Any]) -> None:
    from contextlib import ExitStack

    from labauto.procedure.temperature import is_temperature_procedure

    if procedure is not None and is_temperature_procedure(procedure):
        from labauto.demo_temperature import run_temperature_demo
        run_temperature_demo(console, workdir=workdir, procedure=Path(procedure), latency=latency,
                             seed=seed, with_platform=with_platform, use_prefect=use_prefect)
        return
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    home = use_lab_home(LabHome(workdir / "home", "the demo's working folder"))
    _isolate_from_the_lab(home.path)
    _keep_caches_in(workdir)
    # the simulated instruments belong to this process alone (and every simulated lab has the
    # same serial numbers): their locks live in the working folder, not the machine-wide folder
    os.environ["LABAUTO_LOCK_DIR"] = str(workdir / "locks")
    procedure = Path(procedure or DEFAULT_PROCEDURE)
    plan = load_procedure(procedure)           # a bad file stops here, before anything starts
    meter, source = plan.meter_model, plan.source_model
    heading(console, f"labauto demo: {plan.title} (simulated)")
    console.print(f"Lab home: {home.describe()}")
    with ExitStack() as stack:
        lab = stack.enter_context(lab_for_procedure(plan, seed=seed, latency=latency,
                                                    out_of_tolerance=out_of_tolerance))
        dut_res, std_res = lab.dut_and_standard()
        console.print(f"simulated lab ({latency} timing, seed {seed}): {meter.name} "
                      f"{lab.resources['dmm']}, {source.name} {lab.resources['calibrator']}, "
                      f"thermo-hygrometer {lab.resources['environment']}")
        base_url = None
        if with_platform:
            from labauto.demo_platform import start_demo_platform
            from labauto.signing_identity import lab_signing_identity

            lab_config = load_lab(DEFAULT_LAB_FILE)
            base_url = start_demo_platform(console, workdir, stack, lab_config,
                                           lab_signing_identity(lab_config))
        result, summary = execute(procedure, dut_res, std_res,
                                  workdir=workdir, lab=DEFAULT_LAB_FILE, use_prefect=use_prefect,
                                  settle_scale=1.0 if latency == "realistic" else 0.0,
                                  timeout_ms=10000, publish=True, resume_folder=None,
                                  verify_base_url=base_url, environment=lab.resources["environment"],
                                  confirm_steps=True)
        report(result, summary)
        if base_url:
            record = httpx.get(f"{base_url}/api/v1/certificates/{result.certificate_id}", timeout=10).json()
            console.print(f"platform verification: [bold]{record.get('status')}[/bold], stored "
                          f"sha256 {record.get('sha256')}, page {base_url}/verify/{result.certificate_id}")
        inside = sum(abs(p.error - lab.true_error(plan.point(p.point_id)).to(p.error.units))
                     <= p.expanded_uncertainty for p in result.final_points)
        # (after an adjustment the simulated DUT's errors are those of the as-left results)
        console.print(f"simulation check: the simulated DUT's true error lies within ± U at "
                      f"{inside} of {len(result.final_points)} points")


def _isolate_from_the_lab(home: Path) -> None:
    """The demo signs with its own demonstration keys, queues into its own outbox and uses the
    embedded lab file, whatever a real lab configured in this shell (LABAUTO_SIGNING_KEY/CERT,
    LABAUTO_OUTBOX): simulated certificates never reach a real lab's outbox or carry its
    signature."""
    for var in ("LABAUTO_SIGNING_KEY", "LABAUTO_SIGNING_CERT", "LABAUTO_PLATFORM_URL",
                "LABAUTO_PLATFORM_TOKEN"):
        os.environ.pop(var, None)
    os.environ["LABAUTO_OUTBOX"] = str(home / "outbox.sqlite3")


def _keep_caches_in(workdir: Path) -> None:
    """Prefect's embedded server database and matplotlib's font cache go into the demo's
    working folder unless the user chose their places (PREFECT_HOME, a Prefect server in
    PREFECT_API_URL, MPLCONFIGDIR): the demo writes nothing outside its folder."""
    if not os.environ.get("PREFECT_HOME") and not os.environ.get("PREFECT_API_URL"):
        os.environ["PREFECT_HOME"] = str(workdir / "prefect")
    os.environ.setdefault("MPLCONFIGDIR", str(workdir / "cache" / "matplotlib"))
