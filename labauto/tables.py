"""Rich tables printed without cutting a value.

Rich fits a table to the console's width, cutting cells with an ellipsis: a point id becomes
``DCV-100m…`` and a coverage ``1.0…``.  In a pipe or a file (``labauto validate ... | tee``)
that width is a guess of 80 columns, so :func:`print_whole` prints the table at its natural
width there; on a terminal at least at the width that holds every value (columns given a
``min_width`` keep theirs), so a narrow terminal wraps the lines instead of losing digits.
"""
from __future__ import annotations

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table


def min_widths(table: Table, rows: list[list[str]]) -> None:
    """Give every column of ``table`` the width of its longest value in ``rows`` (plain text):
    values never wrap or get cut, long headers may wrap."""
    for i, column in enumerate(table.columns):
        column.min_width = max([len(r[i]) for r in rows] + [column.min_width or 0])


def print_whole(console: Console, table: Table) -> None:
    """Print ``table`` so that no value is cut (see the module's docstring)."""
    needed = Measurement.get(console, console.options.update_width(100_000), table)
    width = max(console.width, needed.minimum) if console.is_terminal else needed.maximum
    saved = console.width
    console.width = width
    try:
        console.print(table)
    finally:
        console.width = saved
