"""A small SCPI command interpreter for the simulated instruments.

Headers are matched the SCPI way: short or long form (``VOLT`` / ``VOLTAGE``), any case,
optional nodes in brackets (``[SENSe:]VOLTage[:DC]:NPLCycles``), ``;`` separates commands on
one line.  Errors go to a bounded error queue (-350 on overflow), as on a real instrument.
"""
from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import Callable

# standard SCPI error codes used by the simulated instruments
NO_ERROR = (0, "No error")
MISSING_PARAMETER = (-109, "Missing parameter")
UNDEFINED_HEADER = (-113, "Undefined header")
DATA_OUT_OF_RANGE = (-222, "Data out of range")
ILLEGAL_PARAMETER = (-224, "Illegal parameter value")
DATA_STALE = (-230, "Data corrupt or stale")
QUEUE_OVERFLOW = (-350, "Queue overflow")


class ScpiFault(Exception):
    """Raised by a command handler: the command is rejected with this SCPI error."""

    def __init__(self, error: tuple[int, str], detail: str = ""):
        self.code, self.message = error
        if detail:
            self.message = f"{self.message}; {detail}"
        super().__init__(f"{self.code},{self.message}")


def _mnemonic(word: str) -> str:
    short = "".join(c for c in word if c.isupper() or c.isdigit() or c in "*")
    return f"(?:{re.escape(word.upper())}|{re.escape(short)})" if short != word.upper() \
        else re.escape(word.upper())


def compile_header(pattern: str) -> re.Pattern[str]:
    """``[SENSe:]VOLTage[:DC]:RANGe`` -> a regex matching every legal spelling."""
    out, word = [], ""
    for c in pattern:
        if c.isalnum() or c == "*":
            word += c
            continue
        if word:
            out.append(_mnemonic(word))
            word = ""
        out.append({"[": "(?:", "]": ")?", ":": ":", "?": r"\?"}[c])
    if word:
        out.append(_mnemonic(word))
    return re.compile(":?" + "".join(out), re.IGNORECASE)


Handler = Callable[[list[str]], "str | None"]
TemplateHandler = Callable[[dict[str, str]], "str | None"]
_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def compile_template(template: str) -> re.Pattern[str]:
    """``CONF:VOLT:DC {range}`` -> a regex with a named group per placeholder; spacing is
    free (one space in the template: any run of blanks, none where punctuation allows it)."""
    out, pos = [], 0
    text = template.strip().lstrip(":")
    for m in _FIELD.finditer(text):
        out.append(_literal(text[pos:m.start()]))
        out.append(f"(?P<{m.group(1)}>[^,;?\\s][^,;]*?)")
        pos = m.end()
    out.append(_literal(text[pos:]))
    return re.compile(":?" + "".join(out), re.IGNORECASE)


def _literal(text: str) -> str:
    parts = re.split(r"\s+", text)
    out = re.escape(parts[0])
    for before, after in zip(parts, parts[1:]):
        # blanks separate a header from its argument; beside a comma they are optional
        out += (r"\s*" if before.endswith(",") or after.startswith(",") or not before
                else r"\s+") + re.escape(after)
    return out


@dataclass
class Command:
    pattern: str
    regex: re.Pattern[str]
    handler: Handler


class ErrorQueue:
    """FIFO of (code, message); bounded like the real thing."""

    def __init__(self, size: int = 20, no_error: tuple[int, str] = NO_ERROR):
        self._q: deque[tuple[int, str]] = deque()
        self.size, self.no_error = size, no_error

    def push(self, code: int, message: str) -> None:
        if len(self._q) >= self.size:
            self._q[-1] = QUEUE_OVERFLOW
        else:
            self._q.append((code, message))

    def pop(self) -> tuple[int, str]:
        return self._q.popleft() if self._q else self.no_error

    def clear(self) -> None:
        self._q.clear()

    def __len__(self) -> int:
        return len(self._q)


class Interpreter:
    """Dispatch one line of SCPI text to registered handlers; collect the answers.

    Two kinds of command: *headers* (``add``: SCPI short/long forms, the arguments split at
    commas) and *templates* (``add_template``: a whole command as a model file spells it, e.g.
    ``:SENS:FUNC "VOLT:DC"`` or ``DET:BAND {value}``; its placeholders are captured by name).
    Templates are tried first."""

    def __init__(self, errors: ErrorQueue, undefined: tuple[int, str] = UNDEFINED_HEADER):
        self.errors = errors
        self.undefined = undefined      # what an unknown command pushes to the error queue
        self._commands: list[Command] = []
        self._templates: list[tuple[re.Pattern[str], TemplateHandler]] = []

    def add(self, pattern: str, handler: Handler) -> None:
        self._commands.append(Command(pattern, compile_header(pattern), handler))

    def add_template(self, template: str, handler: "TemplateHandler") -> None:
        """Accept the command ``template`` (one command, no ``;``): literal text compared
        without regard to case or spacing, a leading ``:`` optional, each ``{name}`` an
        argument passed to ``handler`` as ``{name: text}``."""
        self._templates.append((compile_template(template), handler))

    def _template(self, unit: str) -> "str | None | bool":
        for regex, handler in self._templates:
            m = regex.fullmatch(unit)
            if m:
                return handler({k: v.strip() for k, v in m.groupdict().items()})
        return False

    def execute(self, line: str) -> str | None:
        """Run every command on ``line``; return the answers joined by ``;`` (None: none)."""
        answers = []
        for unit in (u.strip() for u in line.split(";")):
            if not unit:
                continue
            if self._templates:
                try:
                    answer = self._template(unit)
                except ScpiFault as fault:
                    self.errors.push(fault.code, fault.message)
                    continue
                if answer is not False:
                    if answer is not None:
                        answers.append(answer)
                    continue
            header, _, rest = unit.partition(" ")
            args = [a.strip() for a in rest.split(",")] if rest.strip() else []
            cmd = next((c for c in self._commands if c.regex.fullmatch(header)), None)
            if cmd is None:
                self.errors.push(*self.undefined)
                continue
            try:
                answer = cmd.handler(args)
            except ScpiFault as fault:
                self.errors.push(fault.code, fault.message)
                continue
            if answer is not None:
                answers.append(answer)
        return ";".join(answers) if answers else None



class ScpiInstrument:
    """What every simulated SCPI instrument shares: a command line executed by its interpreter
    (``self.scpi``) under its lock (``self.lock``), faults pushed into its error queue
    (``self.errors``), and the queue read as ``SYST:ERR?`` answers in ``error_format``."""

    scpi: Interpreter
    errors: ErrorQueue
    error_format = '{code},"{message}"'

    def handle(self, line: str) -> str | None:
        with self.lock:
            return self.scpi.execute(line)

    def push_error(self, code: int, message: str) -> None:
        with self.lock:
            self.errors.push(code, message)

    def _err(self, args: list[str]) -> str:
        code, message = self.errors.pop()
        return self.error_format.format(code=code, message=message)


def parse_number(text: str, *, named: dict[str, float] | None = None) -> float:
    """A SCPI numeric parameter (``10``, ``1e-3``, ``MIN``/``MAX``/``DEF`` via ``named``)."""
    key = text.strip().upper()
    for name, value in (named or {}).items():
        if key in (name.upper(), name[:3].upper()):
            return value
    try:
        return float(key)
    except ValueError:
        raise ScpiFault(ILLEGAL_PARAMETER, f"{text!r} is not a number") from None


def parse_bool(text: str) -> bool:
    key = text.strip().upper()
    if key in ("ON", "1"):
        return True
    if key in ("OFF", "0"):
        return False
    raise ScpiFault(ILLEGAL_PARAMETER, f"{text!r} is not ON|OFF|1|0")


def fmt(value: float) -> str:
    """SCPI NR3 number: ``+1.00000000E+01``."""
    return f"{value:+.8E}"
