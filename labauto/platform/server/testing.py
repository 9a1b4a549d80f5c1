"""Run the platform for tests and demos: in a thread (``running_server``) or as a separate
process that can be killed and restarted (``ServerProcess``), and register labs over HTTP."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
from lxml import etree

from labauto.certificate.dcc_xml import DCC_NS, SI_NS, safe_parser
from labauto.platform.server.cmc import difference_in
from labauto.platform.server.settings import PlatformSettings
from labauto.units import Q_, to_dsi

NS = {"dcc": DCC_NS, "si": SI_NS}


@contextlib.contextmanager
def running_server(database_url: str, schema_dir: Path, *, admin_token: str,
                   trusted_ca_pem: bytes | None = None, ca=None) -> Iterator[str]:
    """The platform on 127.0.0.1 (free port) in a background thread; yields the base URL and
    shuts uvicorn down cleanly on exit.  The database is migrated at startup.  ``ca`` (a
    :class:`~labauto.certificate.pki.CertificateAuthority`) is the platform's own CA: with it
    the platform runs its time-stamping authority and publishes a CRL."""
    from labauto.platform.server.runner import ThreadedServer

    server = ThreadedServer(PlatformSettings(database_url=database_url, schema_dir=Path(schema_dir),
                                             admin_token=admin_token, trusted_ca_pem=trusted_ca_pem,
                                             ca_key_pem=ca.key_pem if ca else None,
                                             ca_cert_pem=ca.cert_pem if ca else None))
    base_url = server.start()
    try:
        yield base_url
    finally:
        server.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(base_url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    """Wait until the platform answers its health check; with ``proc`` (the server process),
    fail at once if it exits first (a bad database URL, a port in use) instead of at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base_url}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the platform server for {base_url} exited with code {proc.returncode} "
                               "before it became healthy (its error is printed above)")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the platform at {base_url} did not become healthy in {timeout} s")
        time.sleep(0.05)


class ServerProcess:
    """``python -m labauto.platform.server`` as a child process on a fixed port, so a test can
    kill it (SIGKILL: a crash) and start it again on the same database and URL."""

    def __init__(self, database_url: str, schema_dir: Path, *, admin_token: str,
                 port: int | None = None, workers: int = 1, source: Path | None = None) -> None:
        """``source``: run the server code of another source tree (a benchmark's baseline,
        e.g. ``git archive main`` unpacked) instead of the one imported here."""
        self.database_url, self.schema_dir, self.admin_token = database_url, Path(schema_dir), admin_token
        self.port = port or free_port()
        self.workers = workers
        self.source = Path(source).resolve() if source is not None else None
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> str:
        env = dict(os.environ, LABAUTO_PLATFORM_ADMIN_TOKEN=self.admin_token)
        if self.source is not None:      # ``-m`` puts the working folder first on the path
            env["PYTHONPATH"] = str(self.source)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "labauto.platform.server", "--db", self.database_url,
             "--schema-dir", str(self.schema_dir), "--port", str(self.port), "--log-level", "warning",
             "--workers", str(self.workers)],
            env=env, cwd=self.source)
        try:
            wait_healthy(self.base_url, timeout, self.proc)
        except (TimeoutError, RuntimeError):
            self.kill()
            raise
        return self.base_url

    def kill(self) -> None:
        """Crash the server (SIGKILL) and reap it (with ``workers`` > 1 this kills only the
        supervisor; use :meth:`stop` there)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        """Shut the server down cleanly (SIGTERM)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> str:
        self.kill()
        return self.start()

    def __enter__(self) -> "ServerProcess":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def register_lab(base_url: str, admin_token: str, name: str, accreditation_id: str,
                 cert_pem: str | bytes) -> str:
    """Register a lab over the admin API and return a new API token for it."""
    pem = cert_pem.decode() if isinstance(cert_pem, bytes) else cert_pem
    headers = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        r = client.post("/api/v1/labs", json={"name": name, "accreditation_id": accreditation_id,
                                              "certificate_pem": pem})
        if r.status_code != 201:
            raise RuntimeError(f"registering lab {name!r} failed: HTTP {r.status_code} {r.text}")
        lab_id = r.json()["id"]
        r = client.post(f"/api/v1/labs/{lab_id}/tokens")
        if r.status_code != 201:
            raise RuntimeError(f"issuing a token for lab {name!r} failed: HTTP {r.status_code} {r.text}")
        return r.json()["token"]


# ---------------------------------------------------------------- DCCs with chosen results

def _dcc(tag: str) -> str:
    return f"{{{DCC_NS}}}{tag}"


def _si(tag: str) -> str:
    return f"{{{SI_NS}}}{tag}"


def _quantity(parent, ref: str, name: str, q, U=None, k: float = 2.0):
    el = etree.SubElement(parent, _dcc("quantity"), refType=ref)
    c = etree.SubElement(etree.SubElement(el, _dcc("name")), _dcc("content"))
    c.text = name
    real = etree.SubElement(el, _si("real"))
    etree.SubElement(real, _si("value")).text = repr(float(q.magnitude))
    etree.SubElement(real, _si("unit")).text = to_dsi(q.units)
    if U is not None:
        mu = etree.SubElement(etree.SubElement(real, _si("measurementUncertaintyUnivariate")), _si("expandedMU"))
        # an uncertainty is a difference: 0.05 K is 0.05 °C (not -273.1 °C)
        name = next(iter(q.units._units)) if len(q.units._units) == 1 else ""
        unit_of_u = f"delta_{name}" if name in ("degree_Celsius", "degree_Fahrenheit") else q.units
        etree.SubElement(mu, _si("valueExpandedMU")).text = repr(float(difference_in(U, unit_of_u)))
        etree.SubElement(mu, _si("coverageFactor")).text = repr(float(k))
        etree.SubElement(mu, _si("coverageProbability")).text = "0.95"
    return el


def dcc_with_results(dcc: bytes, points: list[dict]) -> bytes:
    """``dcc`` (from ``make_dcc``) with its results replaced by one result per point, shaped like
    labauto's DCC: nominal value, [frequency], error of indication with U and k.
    A point: ``{"function": "DCV", "nominal": "10 V", "U": "25 µV", "k": 2, "frequency": "1 kHz"}``."""
    root = etree.fromstring(dcc, parser=safe_parser())
    results = root.find("dcc:measurementResults/dcc:measurementResult/dcc:results", NS)
    for child in list(results):
        results.remove(child)
    for i, p in enumerate(points, 1):
        nominal = Q_(p["nominal"])
        res = etree.SubElement(results, _dcc("result"), refType="basic_measuringResult")
        c = etree.SubElement(etree.SubElement(res, _dcc("name")), _dcc("content"))
        c.text = f"P{i}: {p.get('function', 'DCV')} {p['nominal']}" + (f" @ {p['frequency']}" if p.get("frequency") else "")
        data = etree.SubElement(res, _dcc("data"))
        _quantity(data, "basic_nominalValue", "Nominal value", nominal)
        if p.get("frequency"):
            _quantity(data, "basic_frequency", "Frequency", Q_(p["frequency"]))
        error = Q_(p.get("error", 0.0), nominal.units)
        _quantity(data, "basic_measurementError", "Error of indication", error, U=Q_(p["U"]), k=p.get("k", 2.0))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
