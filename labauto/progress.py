"""Rich progress display of a calibration run: one bar per test point (readings taken / N) and
the running mean of the point's readings, the value the results table reports."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import pint
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def plain(q: pint.Quantity, digits: int = 8) -> str:
    """``q`` to ``digits`` significant digits in the plain decimal notation of the results
    table (0.00008 mV, never 8×10⁻⁵ mV), in the unit it is given in."""
    return f"{Decimal(format(float(q.magnitude), f'.{digits}g')):f} {q.units:~P}"


class RichRunObserver:
    """A :class:`labauto.engine.observer.RunObserver` drawing a progress bar per test point."""

    def __init__(self, console: Console | None = None):
        self.progress = Progress(
            TextColumn("{task.fields[point]:<22}"), BarColumn(bar_width=28), MofNCompleteColumn(),
            TextColumn("{task.fields[last]:>23}"), TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(), console=console or Console(), transient=False)
        self._tasks: dict[str, Any] = {}
        self._values: dict[str, list[pint.Quantity]] = {}

    def __enter__(self) -> "RichRunObserver":
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def _task(self, point: Any) -> Any:
        if point.id not in self._tasks:
            self._tasks[point.id] = self.progress.add_task(
                point.id, total=point.readings, point=point.id, last="", status="")
        return self._tasks[point.id]

    def point_started(self, point: Any, attempt: int) -> None:
        t = self._task(point)
        self.progress.reset(t, total=point.readings)
        self._values[point.id] = []          # a new attempt starts a new mean
        self.progress.update(t, status="measuring" if attempt == 1 else f"attempt {attempt}")

    def reading(self, point: Any, index: int, value: pint.Quantity) -> None:
        values = self._values.setdefault(point.id, [])
        values.append(value.to(point.nominal.units))
        mean = sum(values[1:], values[0]) / len(values)
        self.progress.update(self._task(point), completed=index + 1, last=f"mean {plain(mean)}")

    def point_finished(self, point: Any) -> None:
        self.progress.update(self._task(point), status="[green]done")

    def conditions(self, when: str, values: dict[str, pint.Quantity], problems: list[str]) -> None:
        """A reading of the environment logger: an excursion beyond the lab's limits is shown
        at once (every reading is in the journal)."""
        if problems:
            self.progress.console.print(f"[bold red]environment ({when}):[/bold red] "
                                        + "; ".join(problems) + " — the certificate will state it")

    def point_skipped(self, point: Any, reason: str) -> None:
        t = self._task(point)
        self.progress.update(t, completed=point.readings, status="[cyan]from journal")  # short: whole in 80 columns
