"""Simulated Keysight (HP) 3458A reference multimeter speaking its own HP-IB language.

The physics is the simulated lab's meter (labauto.sim.dmm: true errors within the model's
specification, noise per range and NPLC, thermal EMF, loading, shunt heating, settling); only
the language differs (the AC, resistance and frequency physics too: flatness of the meter's AC
ranges against frequency, its current shunts heating, lead resistance in 2-wire ohms, thermal
EMFs without offset compensation, a frequency read by reciprocal counting)::

    ID?                 -> HP3458A
    REV?                -> 9,2                       firmware revisions
    CALSTR?             -> "SN 2823A05432"           the lab's calibration string
    ERRSTR?             -> 0,"NO ERROR" | 16,"UNKNOWN COMMAND" | 64,"PARAMETER OUT OF RANGE"
    ERR?                -> the error register (sum of the codes) and clears it
    PRESET [NORM|FAST]  known state: DCV, autorange, NPLC per the model, NRDGS 1, TRIG SYN
    END ALWAYS|ON|OFF   TARM AUTO|HOLD|SGL   TRIG AUTO|HOLD|SYN|EXT|SGL   NDIG n   CSB
    FUNC DCV|DCI|OHM|OHMF|ACV|ACI|FREQ[,<max input>|AUTO]     RANGE <max input>|AUTO
    NPLC <n>   AZERO ON|OFF|ONCE   OCOMP ON|OFF   NRDGS <n>[,AUTO]
    SETACV SYNC|ANA|RNDM   ACBAND <low>[,<high>]   (AC: the lowest signal frequency)
    TRIG SGL            takes NRDGS readings now and sends them one per line
                        (' 1.000001230E+01'; an overload is '+1.000000000E+38')

Error codes are the bits of the 3458A's error register (16 unknown command, 32 unknown
parameter, 64 parameter out of range, 128 required parameter missing), given from memory of
the User's Guide (03458-90014), ERR? and ERRSTR?.
"""
from __future__ import annotations

from typing import Any

from labauto.instruments import InstrumentModel
from labauto.sim.dmm import MAX_COUNT, SimulatedDmm
from labauto.sim.physics import OVERLOAD, Truth, Wire
from labauto.sim.scpi import Interpreter, ScpiFault, parse_bool, parse_number

NO_ERROR = (0, "NO ERROR")
UNKNOWN_COMMAND = (16, "UNKNOWN COMMAND")
UNKNOWN_PARAMETER = (32, "UNKNOWN PARAMETER")
OUT_OF_RANGE = (64, "PARAMETER OUT OF RANGE")
MISSING_PARAMETER = (128, "REQUIRED PARAMETER MISSING")
OVERLOAD_TEXT = "+1.000000000E+38"


class SimulatedHp3458a(SimulatedDmm):
    """The simulated meter with the 3458A's command set."""

    def __init__(self, model: InstrumentModel, truth: Truth, wire: Wire, clock, *,
                 serial: str, firmware: str = "9,2", seed: int = 0):
        self.serial_number, self.revision = serial, firmware
        self.calstr = f"SN {serial}"
        super().__init__(model, truth, wire, clock, serial=serial, firmware=firmware, seed=seed)
        self.errors.no_error = NO_ERROR
        self.scpi.undefined = UNKNOWN_COMMAND
        self.idn = "HP3458A"
        self.trigger_mode, self.arm_mode, self.end_mode = "SYN", "AUTO", "OFF"
        self.acv_mode = "ANA"
        self.history: list[str] = []

    def _register_commands(self) -> None:
        by_mnemonic = {fn.fields["mnemonic"].upper(): name for name, fn in self.functions.items()}
        self._by_mnemonic = by_mnemonic
        for pattern, handler in [
            ("ID?", lambda a: self.idn), ("REV?", lambda a: self.revision),
            ("CALSTR?", lambda a: f'"{self.calstr}"'), ("CALSTR", self._calstr),
            ("ERRSTR?", self._errstr), ("ERR?", self._err_register), ("CSB", lambda a: None),
            ("PRESET", self._preset), ("RESET", self._preset), ("END", self._end),
            ("TARM", self._tarm), ("TRIG", self._trig), ("NDIG", self._ndig),
            ("FUNC", self._func), ("RANGE", self._range_cmd), ("NPLC", self._nplc),
            ("AZERO", lambda a: self._flag(a, "autozero")),
            ("OCOMP", lambda a: self._flag(a, "offset_compensation")),
            ("NRDGS", self._nrdgs), ("SETACV", self._setacv), ("ACBAND", self._acband),
        ]:
            self.scpi.add(pattern, handler)

    def handle(self, line: str) -> str | None:
        with self.lock:
            self.history.append(line)
            return self.scpi.execute(line)

    # -- handlers ----------------------------------------------------------------------------
    def _errstr(self, args: list[str]) -> str:
        code, message = self.errors.pop()
        return f'{code},"{message}"'

    def _err_register(self, args: list[str]) -> str:
        register = 0
        while len(self.errors):
            register |= max(self.errors.pop()[0], 0)
        return str(register)

    def _calstr(self, args: list[str]) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        self.calstr = ",".join(args).strip().strip('"').strip("'")

    def _preset(self, args: list[str]) -> None:
        if args and args[0].strip().upper() not in ("NORM", "FAST", "DIG"):
            raise ScpiFault(UNKNOWN_PARAMETER, args[0])
        self._reset()
        self.trigger_mode, self.arm_mode = "SYN", "AUTO"

    def _end(self, args: list[str]) -> None:
        self.end_mode = self._word(args, ("ALWAYS", "ON", "OFF"))

    def _tarm(self, args: list[str]) -> None:
        self.arm_mode = self._word(args, ("AUTO", "HOLD", "SGL", "EXT", "SYN"))

    def _ndig(self, args: list[str]) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        if not 3 <= parse_number(args[0]) <= 8:
            raise ScpiFault(OUT_OF_RANGE, f"NDIG {args[0]}")

    def _trig(self, args: list[str]) -> str | None:
        mode = self._word(args, ("AUTO", "HOLD", "SYN", "EXT", "SGL", "LINE", "LEVEL"))
        if mode != "SGL":
            self.trigger_mode = mode
            return None
        self._init([])                      # NRDGS readings, each taking its real time
        self.clock.sleep_until(self._ready_at)
        return "\n".join(_reading(v) for v in self._buffer or [])

    def _func(self, args: list[str]) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        name = self._by_mnemonic.get(args[0].strip().upper())
        if name is None:
            raise ScpiFault(UNKNOWN_PARAMETER, f"this 3458A simulation measures "
                                               f"{', '.join(self._by_mnemonic)}, not {args[0]}")
        rng = self._max_input(name, args[1]) if len(args) > 1 else None
        self.function = name
        self.state[name].range = rng
        self._buffer = None

    def _range_cmd(self, args: list[str]) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        self.state[self.function].range = self._max_input(self.function, args[0])
        self._buffer = None

    def _max_input(self, name: str, text: str) -> float | None:
        """The 3458A picks the smallest range whose full scale takes ``text``."""
        try:
            return self._pick_range(name, text)
        except ScpiFault:
            raise ScpiFault(OUT_OF_RANGE, f"no {name} range takes {text}") from None

    def _nplc(self, args: list[str]) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        value = parse_number(args[0])
        if not 0 <= value <= 1000:
            raise ScpiFault(OUT_OF_RANGE, f"NPLC {args[0]}")
        for name, fn in self.functions.items():      # NPLC applies to every DC function
            if "nplc" in fn.settings:
                self.state[name].settings["nplc"] = value

    def _flag(self, args: list[str], setting: str) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        if setting == "autozero" and args[0].strip().upper() == "ONCE":
            return
        try:
            value = parse_bool(args[0])
        except ScpiFault:
            raise ScpiFault(UNKNOWN_PARAMETER, args[0]) from None
        for name, fn in self.functions.items():
            if setting in fn.settings:
                self.state[name].settings[setting] = value

    def _setacv(self, args: list[str]) -> None:
        self.acv_mode = self._word(args, ("SYNC", "ANA", "RNDM"))

    def _acband(self, args: list[str]) -> None:
        """``ACBAND low[,high]``: the lowest frequency the AC functions are to measure."""
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        low = parse_number(args[0])
        if not 1 <= low <= 10e6:
            raise ScpiFault(OUT_OF_RANGE, f"ACBAND {args[0]}")
        for name, fn in self.functions.items():
            if "bandwidth" in fn.settings:
                self._set(name, "bandwidth", [str(low)])

    def _nrdgs(self, args: list[str]) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        value = parse_number(args[0])
        if value != int(value) or not 1 <= value <= MAX_COUNT:
            raise ScpiFault(OUT_OF_RANGE, f"NRDGS {args[0]}")
        self.sample_count, self.trigger_count = int(value), 1

    @staticmethod
    def _word(args: list[str], allowed: tuple[str, ...]) -> str:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        word = args[0].strip().upper()
        if word not in allowed:
            raise ScpiFault(UNKNOWN_PARAMETER, args[0])
        return word

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "trigger": self.trigger_mode, "end": self.end_mode,
                "setacv": self.acv_mode}


def _reading(value: float) -> str:
    if abs(value) >= OVERLOAD:
        return OVERLOAD_TEXT if value > 0 else "-1.000000000E+38"
    return f"{value: .9E}"
