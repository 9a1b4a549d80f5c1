"""The main job on embedded defaults: a simulated lab, the reference platform, one calibration.

    simulated 34465A + 5522A on loopback SCPI sockets  (labauto.sim)
    reference NQI platform on loopback, SQLite           (labauto.platform.server), if the PTB
                                                         DCC schemas are available
    procedures/keysight_34465a_dcv.yaml through the Prefect flow 'calibrate'
    -> certificate PDF + signed DCC XML + JSON -> outbox -> platform -> verified
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Callable

import httpx
from rich.console import Console

from labauto.config import PROJECT_ROOT, dcc_schema_dir
from labauto.lab import load_lab
from labauto.sim import SimulatedLab

DEFAULT_PROCEDURE = PROJECT_ROOT / "procedures" / "keysight_34465a_dcv.yaml"


def _start_platform(console: Console, workdir: Path, stack: Any) -> str | None:
    schema_dir = dcc_schema_dir()
    if schema_dir is None:
        console.print("[yellow]PTB DCC schemas not found (set LABAUTO_DCC_DIR): the platform is not "
                      "started; the certificate stays queued in the outbox.[/yellow]")
        return None
    from labauto.platform.server.testing import register_lab, running_server
    from labauto.signing_identity import lab_signing_identity

    admin = secrets.token_urlsafe(24)
    db = workdir / "platform.sqlite3"
    lab = load_lab()
    ident = lab_signing_identity(lab)
    base_url = stack.enter_context(running_server(f"sqlite:///{db}", schema_dir, admin_token=admin,
                                                  trusted_ca_pem=ident.ca_cert_pem))
    token = register_lab(base_url, admin, lab.laboratory.name, lab.laboratory.identifier,
                         ident.cert_pem.decode())
    os.environ["LABAUTO_PLATFORM_URL"] = base_url
    os.environ["LABAUTO_PLATFORM_TOKEN"] = token
    console.print(f"reference NQI platform: {base_url} (SQLite {db}, schemas {schema_dir})")
    return base_url


def run_demo(console: Console, *, workdir: Path, procedure: Path | None, latency: str, seed: int,
             use_prefect: bool, with_platform: bool, out_of_tolerance: str | None,
             execute: Callable[..., Any], report: Callable[..., Any]) -> None:
    from contextlib import ExitStack

    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ["LABAUTO_HOME"] = str(workdir / "home")
    # the simulated instruments belong to this process alone (and every simulated lab has the
    # same serial numbers): their locks live in the working folder, not the machine-wide folder
    os.environ["LABAUTO_LOCK_DIR"] = str(workdir / "locks")
    procedure = Path(procedure or DEFAULT_PROCEDURE)
    console.rule("[bold]labauto demo: DC-voltage calibration of a simulated 34465A")
    with ExitStack() as stack:
        lab = stack.enter_context(SimulatedLab(seed=seed, latency=latency,
                                               out_of_tolerance=out_of_tolerance))
        console.print(f"simulated lab ({latency} timing, seed {seed}): DMM {lab.resources['dmm']}, "
                      f"calibrator {lab.resources['calibrator']}")
        base_url = _start_platform(console, workdir, stack) if with_platform else None
        result, summary = execute(procedure, lab.resources["dmm"], lab.resources["calibrator"],
                                  workdir=workdir, lab=None, use_prefect=use_prefect,
                                  settle_scale=1.0 if latency == "realistic" else 0.0,
                                  timeout_ms=10000, publish=True, resume_folder=None,
                                  verify_base_url=base_url)
        report(result, summary)
        if base_url:
            record = httpx.get(f"{base_url}/api/v1/certificates/{result.certificate_id}", timeout=10).json()
            console.print(f"platform verification: [bold]{record.get('status')}[/bold], stored "
                          f"sha256 {record.get('sha256')}, page {base_url}/verify/{result.certificate_id}")
        inside = sum(abs(p.error - lab.truth.dut_error_at_setting(p.function, p.range, p.nominal))
                     <= p.expanded_uncertainty for p in result.points)
        console.print(f"simulation check: the simulated DUT's true error lies within ± U at "
                      f"{inside} of {len(result.points)} points")
