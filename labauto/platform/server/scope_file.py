"""Reading an accreditation scope (the CMC table) from CSV or JSON, with file:line errors.

CSV: a header line, then one row per line (``#`` starts a comment line)::

    quantity,range_min,range_max,frequency_min,frequency_max,conditions,cmc,k
    DC voltage,0 V,100 mV,,,,5 µV/V + 0.5 µV,2
    AC voltage,10 mV,1 V,40 Hz,1 kHz,,100 µV/V + 5 µV,2

JSON: ``{"valid_from": "2026-01-01", "valid_until": null, "rows": [{"quantity": ..., ...}]}``
(or just the list of rows) with the same keys; ``cmc`` may also be a table written
``"1 V: 5 µV; 10 V: 30 µV"``.

Every row is checked (known quantity, units of that quantity, range min <= max, a frequency
band exactly for AC quantities, a CMC that parses) and rows of one quantity must not overlap;
all problems are reported together, each with its line.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass, field

from labauto.platform.server.cmc import Cmc, CmcError, QuantityKind, frequency_in_hz, kind, parse_cmc, value_in

COLUMNS = ("quantity", "range_min", "range_max", "frequency_min", "frequency_max", "conditions", "cmc", "k")
REQUIRED = ("quantity", "range_min", "range_max", "cmc")
MAX_ROWS = 20_000


@dataclass(frozen=True)
class ScopeRow:
    line: int
    kind: QuantityKind
    range_min: float
    range_max: float
    frequency_min: float | None
    frequency_max: float | None
    conditions: str
    cmc: Cmc
    cmc_text: str
    range_text: str          # "1 V to 10 V", as written
    frequency_text: str      # "40 Hz to 1 kHz" or ""


@dataclass
class ScopeDocument:
    rows: list[ScopeRow]
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    meta: dict = field(default_factory=dict)


class ScopeFileError(ValueError):
    """The scope file is refused; ``problems`` are ``(line, reason)``, all of them."""

    def __init__(self, name: str, problems: list[tuple[int | None, str]]) -> None:
        self.name, self.problems = name, problems
        shown = [f"{name}:{line}: {reason}" if line else f"{name}: {reason}" for line, reason in problems[:25]]
        more = f"\n... and {len(problems) - 25} more" if len(problems) > 25 else ""
        super().__init__("\n".join(shown) + more)


def _date(value, what: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise CmcError(f"{what} {value!r} is not a date (write YYYY-MM-DD)") from None


def _row(line: int, raw: dict) -> ScopeRow:
    unknown = sorted(set(raw) - set(COLUMNS))
    if unknown:
        raise CmcError(f"unknown column(s) {', '.join(map(repr, unknown))}; columns are {', '.join(COLUMNS)}")
    cell = {c: ("" if raw.get(c) is None else str(raw.get(c)).strip()) for c in COLUMNS}
    missing = [c for c in REQUIRED if not cell[c]]
    if missing:
        raise CmcError(f"missing {', '.join(missing)}")
    k = kind(cell["quantity"])
    lo = value_in(cell["range_min"], k, "range_min")
    hi = value_in(cell["range_max"], k, "range_max")
    if lo > hi:
        raise CmcError(f"range_min {cell['range_min']} is above range_max {cell['range_max']}")
    fmin = fmax = None
    if cell["frequency_min"] or cell["frequency_max"]:
        if not k.alternating:
            raise CmcError(f"{k.name} has no frequency band; leave frequency_min/frequency_max empty")
        if not (cell["frequency_min"] and cell["frequency_max"]):
            raise CmcError("give both frequency_min and frequency_max")
        fmin = frequency_in_hz(cell["frequency_min"], "frequency_min")
        fmax = frequency_in_hz(cell["frequency_max"], "frequency_max")
        if fmin > fmax:
            raise CmcError(f"frequency_min {cell['frequency_min']} is above frequency_max {cell['frequency_max']}")
    elif k.alternating:
        raise CmcError(f"{k.name} needs a frequency band (frequency_min, frequency_max)")
    kf = None
    if cell["k"]:
        try:
            kf = float(cell["k"])
        except ValueError:
            raise CmcError(f"k {cell['k']!r} is not a number") from None
    cmc = parse_cmc(cell["cmc"], k, coverage_factor=kf, range_min=lo, range_max=hi)
    return ScopeRow(line, k, lo, hi, fmin, fmax, cell["conditions"][:500], cmc, cell["cmc"][:500],
                    f"{cell['range_min']} to {cell['range_max']}",
                    f"{cell['frequency_min']} to {cell['frequency_max']}" if fmin is not None else "")


def _overlaps(a: ScopeRow, b: ScopeRow) -> bool:
    def meet(lo1, hi1, lo2, hi2) -> bool:
        lo, hi = max(lo1, lo2), min(hi1, hi2)
        # touching at one end is allowed (1 V-10 V and 10 V-100 V); a point row inside a range is not
        return lo < hi or (lo == hi and (lo1 == hi1 or lo2 == hi2))
    if a.kind is not b.kind or not meet(a.range_min, a.range_max, b.range_min, b.range_max):
        return False
    if a.frequency_min is None or b.frequency_min is None:
        return True
    return meet(a.frequency_min, a.frequency_max, b.frequency_min, b.frequency_max)


def _check(name: str, rows: list[ScopeRow], problems: list[tuple[int | None, str]]) -> None:
    by_kind: dict[str, list[ScopeRow]] = {}
    for r in rows:
        by_kind.setdefault(r.kind.name, []).append(r)
    for group in by_kind.values():
        group.sort(key=lambda r: (r.range_min, r.range_max))
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if b.range_min > a.range_max:
                    break
                if _overlaps(a, b):
                    first, second = sorted((a, b), key=lambda r: r.line)
                    problems.append((second.line, f"{second.kind.name} {second.range_text}"
                                     + (f" at {second.frequency_text}" if second.frequency_text else "")
                                     + f" overlaps the row of line {first.line} ({first.range_text}"
                                     + (f" at {first.frequency_text}" if first.frequency_text else "") + ")"))
    if not rows and not problems:
        problems.append((None, "the scope has no rows"))
    if problems:
        problems.sort(key=lambda p: p[0] or 0)
        raise ScopeFileError(name, problems)


def parse_csv(text: str, name: str = "scope.csv") -> ScopeDocument:
    problems: list[tuple[int | None, str]] = []
    rows: list[ScopeRow] = []
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    header_line = 0
    try:
        for cells in reader:
            line = reader.line_num
            if not cells or not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
                continue
            if header is None:
                header = [c.strip().lower() for c in cells]
                header_line = line
                bad = [c for c in header if c not in COLUMNS]
                missing = [c for c in REQUIRED if c not in header]
                if bad or missing:
                    raise ScopeFileError(name, [(line, "the header must name the columns "
                                                 f"{', '.join(COLUMNS)} (required: {', '.join(REQUIRED)})"
                                                 + (f"; unknown: {', '.join(bad)}" if bad else "")
                                                 + (f"; missing: {', '.join(missing)}" if missing else ""))])
                if len(set(header)) != len(header):
                    raise ScopeFileError(name, [(line, "a column is named twice in the header")])
                continue
            if len(cells) > len(header):
                problems.append((line, f"{len(cells)} cells but the header (line {header_line}) names "
                                 f"{len(header)} columns (quote a cell that contains a comma)"))
                continue
            if len(rows) + len(problems) >= MAX_ROWS:
                problems.append((line, f"more than {MAX_ROWS} rows"))
                break
            try:
                rows.append(_row(line, dict(zip(header, cells))))
            except CmcError as exc:
                problems.append((line, str(exc)))
    except csv.Error as exc:
        problems.append((reader.line_num, f"not valid CSV: {exc}"))
    if header is None:
        raise ScopeFileError(name, [(None, "no header line (quantity,range_min,range_max,...,cmc,k)")])
    _check(name, rows, problems)
    return ScopeDocument(rows)


def parse_json(text: str, name: str = "scope.json") -> ScopeDocument:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScopeFileError(name, [(exc.lineno, f"not valid JSON: {exc.msg} (column {exc.colno})")]) from None
    lines = _json_lines(text)
    doc = ScopeDocument([])
    problems: list[tuple[int | None, str]] = []
    if isinstance(data, dict):
        unknown = sorted(set(data) - {"valid_from", "valid_until", "rows", "lab", "accreditation_id", "body"})
        if unknown:
            problems.append((lines.get(()), f"unknown key(s) {', '.join(unknown)}"))
        for key in ("valid_from", "valid_until"):
            try:
                setattr(doc, key, _date(data.get(key), key))
            except CmcError as exc:
                problems.append((lines.get((key,)), str(exc)))
        doc.meta = {k: data[k] for k in ("lab", "accreditation_id", "body") if isinstance(data.get(k), str)}
        raw_rows = data.get("rows")
        prefix: tuple = ("rows",)
    else:
        raw_rows, prefix = data, ()
    if not isinstance(raw_rows, list):
        raise ScopeFileError(name, [(lines.get(prefix) or 1, "expected a list of rows (\"rows\": [...])")])
    if len(raw_rows) > MAX_ROWS:
        raise ScopeFileError(name, [(None, f"more than {MAX_ROWS} rows")])
    for i, raw in enumerate(raw_rows):
        line = lines.get(prefix + (i,))
        if not isinstance(raw, dict):
            problems.append((line, f"row {i + 1} is not an object"))
            continue
        try:
            doc.rows.append(_row(line or i + 1, raw))
        except CmcError as exc:
            problems.append((line, str(exc)))
    _check(name, doc.rows, problems)
    return doc


def _json_lines(text: str) -> dict[tuple, int]:
    """Line of every key path of a JSON document (JSON is YAML: labauto.yamlsource reads it)."""
    from labauto.errors import SourceError
    from labauto.yamlsource import loads
    try:
        return loads(text).source.lines
    except SourceError:
        return {}


def parse(data: bytes | str, name: str) -> ScopeDocument:
    """A scope file by its content: JSON if it starts with ``{`` or ``[``, else CSV."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ScopeFileError(name, [(None, f"not UTF-8 text: {exc}")]) from None
    stripped = data.lstrip()
    if name.lower().endswith(".json") or stripped[:1] in ("{", "["):
        return parse_json(data, name)
    return parse_csv(data, name)
