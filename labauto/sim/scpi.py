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
    """Dispatch one line of SCPI text to registered handlers; collect the answers."""

    def __init__(self, errors: ErrorQueue, undefined: tuple[int, str] = UNDEFINED_HEADER):
        self.errors = errors
        self.undefined = undefined      # what an unknown command pushes to the error queue
        self._commands: list[Command] = []

    def add(self, pattern: str, handler: Handler) -> None:
        self._commands.append(Command(pattern, compile_header(pattern), handler))

    def execute(self, line: str) -> str | None:
        """Run every command on ``line``; return the answers joined by ``;`` (None: none)."""
        answers = []
        for unit in (u.strip() for u in line.split(";")):
            if not unit:
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
