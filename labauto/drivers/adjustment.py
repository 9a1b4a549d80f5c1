"""The DUT's calibration adjustment, from the command templates of its model file
(``adjustment:``, see :mod:`labauto.procedure.adjustment`): unsecure with the code, at each
point tell the meter the value the reference applies and let it adjust, store, secure again.

    with adjusting(meter, commands) as adjust:
        adjust(Q_(10, "V"))        # the meter is configured and the reference applies 10 V
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

import pint

from labauto.commands import render
from labauto.errors import LabautoError


class AdjustmentFailed(LabautoError):
    """The DUT refused or failed an adjustment step (secured, no signal, wrong answer)."""


@contextmanager
def adjusting(meter: Any, commands: Any, code: str | None = None) -> Iterator[Callable[[pint.Quantity], str]]:
    """Unsecure the meter's calibration, yield ``adjust(value)``, then store the new constants
    and secure it again — also when an adjustment fails (nothing is stored then)."""
    lang, session = meter.language, meter.session
    code = commands.security_code if code is None else code
    session.write(render(commands.unsecure, {"code": code}))
    stored = False

    def adjust(value: pint.Quantity) -> str:
        session.write(render(commands.value, {"value": lang.format_value(value)}))
        answer = session.query(commands.adjust).strip()
        if answer != commands.success and _number(answer) != _number(commands.success):
            raise AdjustmentFailed(f"{meter.name} at {meter.resource}: the adjustment at "
                                   f"{value:~P} answered {answer!r} (expected "
                                   f"{commands.success!r}); nothing was stored")
        return answer

    try:
        yield adjust
        session.write(commands.store)
        stored = True
    finally:
        try:
            session.write(render(commands.secure, {"code": code}))
        except Exception:            # noqa: BLE001 - secure again best-effort, report the first error
            if stored:
                raise


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
