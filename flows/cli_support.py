"""What the lab's command groups share: a Prefect server that does not answer is one line."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import typer


@contextmanager
def server_errors(console: Any) -> Iterator[None]:
    """Turn "the Prefect server cannot be reached" into an error line and exit status 1."""
    from flows.instrument_slots import unreachable

    try:
        yield
    except Exception as exc:  # noqa: BLE001 - only a connection failure is translated
        message = unreachable(exc)
        if message is None:
            raise
        console.print(f"[bold red]error:[/bold red] {message}", highlight=False)
        raise typer.Exit(1) from None
