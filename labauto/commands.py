"""Command templates: what each instrument role can be asked to do, and how a model spells it.

A *role* (meter, source) owns its operations; each operation is one command template with
named placeholders.  A model file (``instruments/<model>/model.yaml``) spells the templates
for its command language and owns the table of functions whose columns fill the placeholders
(``mnemonic``, ``unit``, ``amplitude`` ...).  When a model loads, every template is checked
here against its role (unknown operations, missing required ones, placeholders nothing fills),
so a typo in a model file is reported at its line, before any instrument is touched.

    meter:  configure "CONF:{mnemonic} {range}"   sample_count "SAMP:COUN {count}"
            read "READ?"                          settings: nplc "{mnemonic}:NPLC {value}" ...
    source: output "OUT {value} {unit}"           output_ac "OUT {value} {unit}, {frequency} HZ"
            operate "OPER"   standby "STBY"       output_query "OUT?"   settings: ...
    heat_source: setpoint "SOUR:SPO {value}"     setpoint_query "SOUR:SPO?"
            temperature_query "SOUR:SENS:DATA?"  stability_query "SOUR:STAB:TEST?"

A template is a Python format string whose fields are plain names.  The values are rendered by
the model's command language (:mod:`labauto.drivers.language`): numbers in the function's
coherent SI unit (V, A, Ω, Hz), booleans as ON/OFF in SCPI.
"""
from __future__ import annotations

import string
from dataclasses import dataclass


@dataclass(frozen=True)
class Operation:
    """One operation of a role: the placeholders the engine supplies, and whether every model
    of the role must spell it."""

    parameters: frozenset[str]
    required: bool = True
    doc: str = ""


def _op(params: str = "", required: bool = True, doc: str = "") -> Operation:
    return Operation(frozenset(params.split()), required, doc)


#: role -> operation -> what the engine supplies.  ``settings`` templates get ``value``.
ROLES: dict[str, dict[str, Operation]] = {
    "meter": {
        "configure": _op("range", doc="select the function on a fixed range"),
        "sample_count": _op("count", required=False, doc="readings per trigger"),
        "read": _op("count", doc="trigger and return the readings (comma separated); "
                                 "{count}: how many, for a language that names it in the query"),
    },
    # a source's templates may also name the output {channel} and the {compliance} limit of
    # the range in use (a multi-output power supply: "VOLT {value},(@{channel})")
    "source": {
        "output": _op("value channel compliance", doc="program a DC value or a resistance"),
        "output_ac": _op("value frequency channel compliance", required=False,
                         doc="program an AC value at a frequency (AC functions and FREQ)"),
        "operate": _op("channel", doc="connect the output to the terminals"),
        "standby": _op("channel", doc="disconnect the output"),
        "output_query": _op("channel", required=False,
                            doc="the programmed output, as 'value,unit,...'"),
        "operate_query": _op("channel", required=False,
                             doc="1 when the output is live, 0 in standby"),
        "readback": _op("channel", required=False,
                        doc="the source's own measurement of its output (one number)"),
    },
    # dry-wells, metrology wells, stirred baths, furnaces (labauto.drivers.heat_source); values
    # in the function's own unit (a setpoint in °C is written in °C, not kelvin)
    "heat_source": {
        "setpoint": _op("value", doc="set the control setpoint"),
        "setpoint_query": _op(doc="the setpoint now in force"),
        "temperature_query": _op(doc="the temperature of the control sensor"),
        "stability_query": _op(required=False, doc="1 when the source's own stability test passes"),
        "enable": _op(required=False, doc="heating/cooling on (the control loop runs)"),
    },
}
SETTING_PARAMETERS = frozenset({"value"})


def placeholders(template: str) -> list[str]:
    """The field names of ``template`` (``"CONF:{mnemonic} {range}"`` -> mnemonic, range).

    Raises ValueError for a malformed template or a field that is not a plain name."""
    names = []
    for _, field, spec, conversion in string.Formatter().parse(template):
        if field is None:
            continue
        if not field.isidentifier():
            raise ValueError(f"placeholder {{{field}}} must be a plain name such as {{value}}")
        if spec or conversion:
            raise ValueError(f"placeholder {{{field}}} takes no format spec; the command "
                             "language formats values")
        names.append(field)
    return names


def render(template: str, values: dict[str, str]) -> str:
    """Fill ``template`` with already-rendered ``values`` (every placeholder must be given)."""
    return template.format(**values)
