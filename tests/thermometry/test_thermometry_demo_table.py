"""The temperature demo's results table in a pipe (rich assumes 80 columns): the DUT's readings
were cut to '84.2711…', '119.385…' — a value a technician copies must be whole."""
from __future__ import annotations

from types import SimpleNamespace

from rich.console import Console

from labauto.demo_temperature import results_table


def test_values_are_whole_in_80_columns():
    points = [SimpleNamespace(id=f"T{t}C") for t in (-40, 0, 420)]
    results = [SimpleNamespace(nominal=t, reference_temperature=t + 0.0116, value=v, U=0.006169,
                               error=e, U_error=0.0156, k=2.0, unit="ohm")
               for t, v, e in ((-40, 84.271123, 0.0011), (0, 99.995234, -0.0122),
                               (420, 253.906321, -0.1594))]
    evaluation = SimpleNamespace(procedure=SimpleNamespace(id="PT100-CMP-420", points=points),
                                 points=results, dut_kind="resistance")
    console = Console(record=True, width=80, force_terminal=False, soft_wrap=True)
    console.print(results_table(evaluation))
    text = console.export_text()
    for value in ("84.271123", "99.995234", "253.906321", "0.006169", "-39.9884", "+1.1", "-159.4"):
        assert value in text, text
    assert "…" not in text, text
