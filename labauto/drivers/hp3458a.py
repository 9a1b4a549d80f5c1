"""The HP (Agilent, Keysight) 3458A's own HP-IB command language, as a language plug-in.

The 3458A predates SCPI.  What differs from it, and is therefore all this module holds:

* identity: ``ID?`` answers only ``HP3458A``; the firmware comes from ``REV?`` (two numbers)
  and the serial number, which the instrument cannot report, from the calibration string
  (``CALSTR?``), where the laboratory writes ``SN <serial>`` when it registers the meter.
  The three answers are joined with ``;`` into the text the model's identity pattern matches;
  manufacturer and model are the model file's;
* errors: ``ERRSTR?`` answers ``<code>,"<message>"`` (``0,"NO ERROR"``), one error per query;
  ``ERR?`` reads and clears the whole error register (used once, on connecting);
* on connecting: ``PRESET NORM`` (a known state), ``TRIG HOLD`` (no free-running readings:
  each burst is triggered), ``END ALWAYS`` (EOI with every reading on HP-IB);
* a burst of N readings (``NRDGS N,AUTO``) is triggered by ``TRIG SGL`` and comes back as N
  separate lines (``OFORMAT ASCII``), read one by one before the error register is looked at:
  a query sent while readings wait in the output buffer would discard them.

Everything else (``FUNC DCV,10``, ``NPLC 100``, ``AZERO ON``, ``OCOMP ON``) is a command
template in ``instruments/keysight_3458a/model.yaml``; the meter role does not change.
Sources: Keysight 3458A User's Guide (03458-90014), chapter 5 "Command Reference" (ID?, REV?,
CALSTR, ERRSTR?, ERR?, PRESET, TRIG, TARM, NRDGS, FUNC, NPLC, AZERO, OCOMP, END); the answer
formats of REV? and ERRSTR? above are given from memory of that guide.
"""
from __future__ import annotations

from typing import Any

from labauto.drivers.language import ScpiLanguage
from labauto.visa.errors import ConnectionLostError, InstrumentError, TransientVisaError
from labauto.visa.session import is_timeout

#: sent after the identity check; each is a documented 3458A command
CONNECT_COMMANDS = "PRESET NORM;TRIG HOLD;END ALWAYS"


class Hp3458aLanguage(ScpiLanguage):
    """HP-IB language of the 3458A (see the module text)."""

    name = "hp3458a"
    identity_query = "ID?"
    firmware_query = "REV?"
    serial_query = "CALSTR?"
    clear_command = CONNECT_COMMANDS
    error_query = "ERRSTR?"
    error_register_query = "ERR?"
    autorange = "AUTO"
    configure_presets_count = False    # FUNC keeps NRDGS: the role sends it before each read

    def identify(self, session: Any) -> str:
        answers = [session.raw_query(q) for q in (self.identity_query, self.firmware_query,
                                                  self.serial_query)]
        return ";".join(answers)

    def identity_fields(self, text: str, groups: dict[str, str],
                        model: Any) -> tuple[str, str, str, str]:
        return model.manufacturer, model.model, groups.get("serial", ""), \
            groups.get("firmware", "")

    def clear(self, session: Any) -> str:
        session.raw_query(self.error_register_query)     # reads and clears the error register
        session.raw_write(self.clear_command)
        return self.clear_command

    def read_values(self, session: Any, command: str, n: int, timeout_ms: int) -> list[float]:
        """``TRIG SGL``, then the burst's N lines, then the error queue."""
        previous = session.timeout_ms
        session.raw_write(command)
        values = []
        try:
            session.timeout_ms = timeout_ms
            for i in range(n):
                values.append(float(session.raw_read(f"reading {i + 1} of {n} after {command}")))
        except TransientVisaError as exc:
            # a rejected trigger sends no readings: say why, from the error register
            if isinstance(exc, ConnectionLostError) or not is_timeout(exc):
                raise
            session.timeout_ms = previous
            errors = session.read_errors(command)
            if errors:
                raise InstrumentError(instrument=session.instrument, resource=session.resource_name,
                                      command=command, errors=errors) from exc
            raise
        finally:
            session.timeout_ms = previous
        session.check_errors(command)
        return values
