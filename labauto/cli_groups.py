"""The CLI's command groups, loaded when used.

Each group (``labauto procedure``, ``labauto platform`` ...) lives in its own module whose
imports (scipy, pint, SQLAlchemy, lxml, Prefect ...) take seconds.  ``labauto --help`` and any
one command should pay only for what they use, so the top-level application lists the groups
by name and help text and imports a group's module the first time that group is invoked.
"""
from __future__ import annotations

import importlib
from typing import Any, Optional

import click
import typer
from typer.core import TyperGroup

# name -> ("module:attribute" of its typer.Typer, one-line help shown by `labauto --help`)
GROUPS: dict[str, tuple[str, str]] = {
    "procedure": ("labauto.procedure.cli:app", "Validate and inspect procedure files."),
    "instruments": ("labauto.drivers.cli:app", "List and identify instruments."),
    "sim": ("labauto.sim.cli:app",
            "The simulated lab (coupled DMM + calibrator over SCPI sockets)."),
    "uncertainty": ("labauto.uncertainty.cli:app",
                    "Evaluate measurement models (GUM, Monte Carlo)."),
    "risk": ("labauto.conformity.cli:app",
             "Decision risks (JCGM 106): global R_C/R_P, guard bands."),
    "platform": ("labauto.platform.cli:app", "The NQI sharing platform reference server."),
    "publish": ("labauto.platform.publish_cli:app",
                "Publish certificates through the durable outbox."),
    "operator": ("flows.operator_cli:app",
                 "Operator steps of paused calibrations: list and answer them."),
    "lab": ("flows.lab_cli:app",
            "The lab's Prefect server, work pool, bench workers and deployments."),
    "schedule": ("flows.schedule_cli:app",
                 "Prefect schedules from the equipment register (items falling due)."),
    "dcc": ("labauto.certificate.verify_cli:app",
            "Check DCC files: schema, PTB's rules, signature, trust chain."),
    "register": ("labauto.quality.cli:app",
                 "The equipment register: items, status, calibrations."),
    "interval": ("labauto.quality.interval_cli:app",
                 "Calibration intervals from as-found history (NCSLI RP-1 A3, S2)."),
    "temperature": ("labauto.temperature.cli:app",
                    "Temperature scales: ITS-90, IEC 60751, IEC 60584-1 conversions."),
    "comparison": ("labauto.comparison_cli:app",
                   "Temperature comparison runs: reference readout, heat sources, stability."),
    "validate": ("labauto.validation.cli:app",
                 "Validate a procedure by simulated calibrations: coverage, decision risk."),
}


def load_group(name: str) -> click.Command:
    """The click command of group ``name``, built from its module's typer application."""
    target, help_text = GROUPS[name]
    module_name, _, attribute = target.partition(":")
    sub_app: typer.Typer = getattr(importlib.import_module(module_name), attribute)
    command = typer.main.get_command(sub_app)
    command.name = name
    command.help = command.help or help_text
    return command


class LazyGroupCommand(click.Group):
    """Stands for a group in the top-level listing; becomes the real group when invoked."""

    def __init__(self, name: str, help_text: str) -> None:
        super().__init__(name=name, help=help_text, short_help=help_text)
        self._real: Optional[click.Command] = None

    def real(self) -> click.Command:
        if self._real is None:
            self._real = load_group(self.name or "")
        return self._real

    def make_context(self, info_name: Optional[str], args: list[str],
                     parent: Optional[click.Context] = None, **extra: Any) -> click.Context:
        return self.real().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:  # reached only through make_context's context
        return self.real().invoke(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> Optional[click.Command]:
        real = self.real()
        return real.get_command(ctx, cmd_name) if isinstance(real, click.Group) else None

    def list_commands(self, ctx: click.Context) -> list[str]:
        real = self.real()
        return real.list_commands(ctx) if isinstance(real, click.Group) else []


class LabautoGroup(TyperGroup):
    """The top-level group: its own commands plus the lazily loaded groups."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, (_target, help_text) in GROUPS.items():
            self.commands.setdefault(name, LazyGroupCommand(name, help_text))
