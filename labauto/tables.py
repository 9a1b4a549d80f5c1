"""Rich tables printed without cutting a value.

Rich fits a table to the console's width, cutting cells with an ellipsis: a point id becomes
``DCV-100m…`` and a coverage ``1.0…``.  In a pipe or a file (``labauto validate ... | tee``)
that width is a guess of 80 columns.  :func:`print_whole` prints a table at the console's
width where every value fits whole (``min_widths``), else at the table's natural width: out of
a terminal the line is as long as it needs, on a terminal the terminal wraps it.  Either way
no digit is lost.
"""
from __future__ import annotations

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table


def min_widths(table: Table, rows: list[list[str]]) -> None:
    """Give every column of ``table`` the width of its longest value in ``rows`` (plain text)
    or of its header's longest word: values never wrap or get cut, long headers wrap between
    words."""
    for i, column in enumerate(table.columns):
        words = str(column.header).split() or [""]
        column.min_width = max([len(r[i]) for r in rows] + [len(w) for w in words]
                               + [column.min_width or 0])


def print_whole(console: Console, table: Table) -> None:
    """Print ``table`` so that no value is cut (see the module's docstring)."""
    width = console.width
    options = console.options.update_width(width)
    # rich shrinks the columns towards their min_width but may stop above it: the table is
    # then wider than the console, whose edge cuts the last columns off
    laid_out = sum(table._calculate_column_widths(console, options)) + table._extra_width
    if laid_out > width or not console.is_terminal:
        natural = Measurement.get(console, console.options.update_width(100_000), table).maximum
        width = natural if not console.is_terminal else max(width, natural)
    saved = console.width
    console.width = width
    try:
        console.print(table)
    finally:
        console.width = saved
