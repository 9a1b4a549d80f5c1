"""PTB's Schematron rules for DCCs, run by a real Schematron engine: SchXslt on Saxon-HE.

PTB publishes business rules for DCC 3.3.0 as ``dcc.sch`` (beside the schemas,
``schema/dcc.sch``): an XSLT 2 Schematron (``tokenize``, ``matches``, ``some ... satisfies``).
:class:`RuleBook` compiles it ONCE — SchXslt 1.x (the copy bundled with PTB's ``dcclib``)
turns ``dcc.sch`` into an XSLT stylesheet, Saxon-HE (``saxonche``) compiles that into an
executable — and then runs the executable on each document.  SchXslt's compact SVRL mode
(``schxslt.svrl.compact``) leaves out the fired-rule and active-pattern records, which no one
reads and which cost a third of the run time.

Outcome, as Schematron defines it: an ``sch:assert`` that fails or an ``sch:report`` that fires
is a finding with the rule's ``role``; ``error`` (or no role) refuses the document, ``warning``
is reported and does not, ``information`` is dropped.  A pattern fires only the first rule whose
context matches a node (the point where the hand-written subset this module replaces was wrong).

The executable is SchXslt's stylesheet rewritten automatically at start-up, the rules, tests
and messages PTB's (:mod:`~labauto.platform.server.schematron_xslt` says how and why the findings
stay the same): lean (:func:`lean_stylesheet`: without SchXslt's per-node report bookkeeping and
without the never-reported ``information`` findings), then with one mode per pattern applied only
to the nodes its rules match, and with regular-expression tests remembered by their input
(:func:`pattern_mode_stylesheet`).  The findings are tagged with their pattern and
:meth:`RuleBook.check` sorts them into SchXslt's order (by pattern, then as they fired).  Tests
compare the findings with those of SchXslt's stylesheet as compiled on every rule case.  If a
SchXslt version compiles to another shape, the previous stage's stylesheet is used
(:attr:`RuleBook.pattern_modes` or :attr:`RuleBook.lean` is then False).

Rules follow the version the document declares (:data:`RULES_BY_VERSION`): ``dcc.sch`` is
written for 3.3.0 and applies to every 3.3.x document; PTB publishes no rules for earlier
versions, so for those the report says so and only the XSD applies.

What the rules see: the document WITHOUT its ``ds:Signature``.  The signature is checked by the
signature stage (cryptographically, which is stricter than any rule); PTB's rules are written
for DCC content, and a generic rule (an "empty element" report, say) would otherwise fire on
``ds:CanonicalizationMethod`` and its siblings — empty by definition of XMLDSig — in every
signed DCC.  Removing the signature (the last child of the root, allowed there since 3.2.0)
leaves exactly what an enveloped signature covers.
"""
from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from labauto.platform.server.schematron_xslt import (  # noqa: F401  (SVRL, schxslt_dir: re-exported)
    DROPPED_ROLES, PATTERN_ATTRIBUTE, SVRL, lean_stylesheet, pattern_mode_stylesheet, schxslt_compile,
    schxslt_dir)

DS_SIGNATURE = "{http://www.w3.org/2000/09/xmldsig#}Signature"
# (major, minor) of a schemaVersion -> PTB's Schematron file in the schema folder
RULES_BY_VERSION: dict[tuple[int, int], str] = {(3, 3): "dcc.sch"}
NO_RULES = "no Schematron rules published for this version"
PROCESSES_ENV = "LABAUTO_PLATFORM_SCHEMATRON_PROCESSES"     # RuleBook's default worker processes
_STEP = re.compile(r"/(@)?(?:Q\{([^}]*)\})?([^/\[\]]+)(?:\[(\d+)\])?")


@dataclass(frozen=True)
class Finding:
    """One failed assert or fired report: its role, PTB's message, where (line, XPath)."""

    role: str
    message: str
    location: str
    line: int | None = None

    def text(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message

    def json(self) -> dict:
        return {"role": self.role, "message": self.message, "line": self.line,
                "location": self.location}


@dataclass
class RulesReport:
    """The ``rules`` stage: which rules applied, and their errors and warnings."""

    version: str
    rules: str | None                   # e.g. "dcc.sch (PTB, for DCC 3.3.0)"; None: none apply
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def applied(self) -> bool:
        return self.rules is not None

    @property
    def note(self) -> str:
        return self.rules if self.applied else f"{NO_RULES} ({self.version}): XSD only"


def default_processes() -> int:
    """How many worker processes a :class:`RuleBook` starts unless told: the environment's
    LABAUTO_PLATFORM_SCHEMATRON_PROCESSES if set (0: the rules and the rest of admission run in
    the calling process), else 2 on a machine with two cores or more, else 0.  The workers admit
    whole publications (:mod:`~labauto.platform.server.admission`) beside the server's threads,
    which then keep only HTTP and the database: two let admissions overlap each other and the
    server's own work on two cores (one was the bottleneck: 5 ms of admission per publication
    against 2 ms in the server; a third one gains nothing on two cores, measured in
    ``benchmarks/bench_platform.py``)."""
    value = os.environ.get(PROCESSES_ENV, "").strip()
    if not value:
        return 2 if (os.cpu_count() or 1) >= 2 else 0
    try:
        n = int(value)
    except ValueError:
        n = -1
    if n < 0:
        raise ValueError(f"{PROCESSES_ENV}={value!r}: expected a whole number of worker processes "
                         "(0: the Schematron rules run in the server's process)")
    return n


class RulesEngineError(RuntimeError):
    """Saxon raised a dynamic error running the rules on a document (its message)."""


class RuleBook:
    """PTB's Schematron files of a schema folder, each compiled once, run under a lock (one
    Saxon processor per process; its executables are not shared between threads unguarded).

    ``processes`` (default :func:`default_processes`: two on a machine with two cores or more)
    > 0 runs the rules in that many worker processes, started here, each with its own compiled
    copy (:mod:`~labauto.platform.server.schematron_workers`; they also admit whole documents,
    :mod:`~labauto.platform.server.admission`): the calling thread waits without holding the
    GIL, so the server's other threads go on while Saxon works on another core.  A
    worker that dies is replaced and its document checked here (the rules are then compiled in
    this process, once, when first needed).  0 runs them in this process, compiled here.
    :meth:`close` ends the workers (they also end with this process, however it ends)."""

    def __init__(self, schema_dir: Path | str, *, lean: bool = True, pattern_modes: bool = True,
                 processes: int | None = None) -> None:
        self.schema_dir = Path(schema_dir)
        self._lock = threading.Lock()
        self._proc = None
        self._executables: dict[str, object] = {}
        self._pattern_order: dict[str, dict[str, int]] = {}
        self.lean = lean                                # what runs: see the module docstring
        self.pattern_modes = lean and pattern_modes
        self._names = [name for name in sorted(set(RULES_BY_VERSION.values()))
                       if (self.schema_dir / name).is_file()]
        if processes is None:
            processes = default_processes()
        self.workers = None
        if processes > 0 and self._names:
            from labauto.platform.server.schematron_workers import WorkerPool
            self.workers = WorkerPool(processes, self.schema_dir, lean=lean, pattern_modes=pattern_modes)
            self.lean, self.pattern_modes = self.workers.kind      # what the workers compiled
        else:
            self._compile_all()

    def _compile_all(self) -> None:
        for name in self._names:
            self._executables[name] = self._compile(self.schema_dir / name, name)

    def close(self) -> None:
        """End the worker processes, if any (the book then checks in this process)."""
        if self.workers is not None:
            self.workers.close()
            self.workers = None

    def _compile(self, sch: Path, name: str):
        """SchXslt's stylesheet for ``sch``, rewritten as far as it goes (module docstring), as a
        Saxon executable; a rewrite that is refused or does not compile leaves the previous one."""
        from saxonche import PySaxonApiError, PySaxonProcessor

        if self._proc is None:
            self._proc = PySaxonProcessor(license=False)
        xslt = self._proc.new_xslt30_processor()
        try:
            stylesheets = [("compiled", schxslt_compile(self._proc, xslt, sch))]
        except PySaxonApiError as exc:
            raise RuntimeError(f"cannot compile the Schematron {sch}: {exc}") from exc
        made = lean_stylesheet(stylesheets[0][1]) if self.lean else None
        if made is not None:
            stylesheets.append(("lean", made[0]))
            self._pattern_order[name] = made[1]
            moded = pattern_mode_stylesheet(made[0], made[1]) if self.pattern_modes else None
            if moded is not None:
                stylesheets.append(("pattern modes", moded))
        while True:
            kind, stylesheet = stylesheets.pop()
            try:
                executable = xslt.compile_stylesheet(stylesheet_text=stylesheet)
            except PySaxonApiError as exc:
                if not stylesheets:
                    raise RuntimeError(f"cannot compile the Schematron {sch}: {exc}") from exc
                continue
            self.pattern_modes = kind == "pattern modes"
            self.lean = kind != "compiled"
            if not self.lean:
                self._pattern_order.pop(name, None)
            return executable

    def rules_for(self, version: str) -> str | None:
        """The Schematron file that applies to a document of ``version`` (None: none)."""
        parts = version.split(".")
        try:
            key = (int(parts[0]), int(parts[1]))
        except (IndexError, ValueError):
            return None
        name = RULES_BY_VERSION.get(key)
        return name if name in self._names else None

    def findings(self, name: str, text: str) -> list[tuple[str, str, str]]:
        """(role, message, location) of each error or warning the rules file ``name`` finds in
        the document ``text``, in SchXslt's order (by pattern, then as they fired), in this
        process; :class:`RulesEngineError` if Saxon raises an error."""
        from saxonche import PySaxonApiError

        with self._lock:
            if not self._executables:         # run by workers so far: compile here now, once
                self._compile_all()
            try:
                svrl = self._executables[name].transform_to_string(
                    xdm_node=self._proc.parse_xml(xml_text=text))
            except PySaxonApiError as exc:
                raise RulesEngineError(str(exc)) from None
        found = etree.fromstring(svrl.encode()).iter(SVRL + "failed-assert", SVRL + "successful-report")
        order = self._pattern_order.get(name)
        if order is not None:        # SchXslt's order: by pattern, then as they fired (a stable sort)
            found = sorted(found, key=lambda el: order[el.get(PATTERN_ATTRIBUTE)])
        out = []
        for el in found:
            role = (el.get("role") or "error").lower()
            if role not in DROPPED_ROLES:
                out.append((role, " ".join((el.findtext(SVRL + "text") or "").split()), el.get("location") or ""))
        return out

    def check(self, root: etree._Element, version: str) -> RulesReport:
        """Run the rules for ``version`` on ``root`` (its ds:Signature left out)."""
        name = self.rules_for(version)
        if name is None:
            return RulesReport(version, None)
        report = RulesReport(version, f"{name} (PTB's rules for DCC {version.rsplit('.', 1)[0]}.x)")
        text = _without_signature(root)
        try:
            workers = self.workers
            found = None if workers is None else workers.findings(name, text)
            if found is None:             # no workers, or the worker died (it was replaced)
                found = self.findings(name, text)
        except RulesEngineError as exc:
            report.errors.append(Finding("error", f"the Schematron engine failed: {exc}", "/"))
            return report
        for role, message, location in found:
            finding = Finding(role, message, location, _line(root, location))
            (report.warnings if role == "warning" else report.errors).append(finding)
        return report


def _without_signature(root: etree._Element) -> str:
    """The document as text with its top-level ds:Signature left out (the tree is restored)."""
    sigs = [(root.index(s), s) for s in root.findall(DS_SIGNATURE)]
    for _, sig in sigs:
        root.remove(sig)       # keeps sig.tail with sig: the text around it is unchanged
    try:
        return etree.tostring(root, encoding="unicode")
    finally:
        for i, sig in sigs:
            root.insert(i, sig)


def _line(root: etree._Element, location: str) -> int | None:
    """The source line of the element an SVRL location (``/Q{ns}name[n]/...[/@attr]``) names."""
    el = None
    for m in _STEP.finditer(location):
        attribute, ns, local, index = m.groups()
        if attribute:
            break
        tag = f"{{{ns}}}{local}" if ns else local
        if el is None:
            if root.tag != tag:
                return None
            el = root
            continue
        matches = [c for c in el if c.tag == tag]
        n = int(index or 1)
        if n > len(matches):
            break
        el = matches[n - 1]
    return el.sourceline if el is not None else None
