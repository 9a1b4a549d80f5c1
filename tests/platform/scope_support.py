"""Helpers of the accreditation tests: DCCs with chosen results, bodies and scopes over HTTP."""
from __future__ import annotations

from dataclasses import dataclass

import httpx
from lxml import etree

from labauto.certificate.dcc_xml import DCC_NS, SI_NS, safe_parser
from labauto.units import Q_, to_dsi

NS = {"dcc": DCC_NS, "si": SI_NS}


def _d(tag: str) -> str:
    return f"{{{DCC_NS}}}{tag}"


def _s(tag: str) -> str:
    return f"{{{SI_NS}}}{tag}"


def _quantity(parent, ref: str, name: str, q, U=None, k: float = 2.0):
    el = etree.SubElement(parent, _d("quantity"), refType=ref)
    c = etree.SubElement(etree.SubElement(el, _d("name")), _d("content"))
    c.text = name
    real = etree.SubElement(el, _s("real"))
    etree.SubElement(real, _s("value")).text = repr(float(q.magnitude))
    etree.SubElement(real, _s("unit")).text = to_dsi(q.units)
    if U is not None:
        mu = etree.SubElement(etree.SubElement(real, _s("measurementUncertaintyUnivariate")), _s("expandedMU"))
        etree.SubElement(mu, _s("valueExpandedMU")).text = repr(float(U.to(q.units).magnitude))
        etree.SubElement(mu, _s("coverageFactor")).text = repr(float(k))
        etree.SubElement(mu, _s("coverageProbability")).text = "0.95"
    return el


def with_results(dcc: bytes, points: list[dict]) -> bytes:
    """``dcc`` (from ``make_dcc``) with its results replaced by one result per point, shaped like
    labauto's DCC: nominal value, [frequency], error of indication with U and k.
    A point: ``{"function": "DCV", "nominal": "10 V", "U": "25 µV", "k": 2, "frequency": "1 kHz"}``."""
    root = etree.fromstring(dcc, parser=safe_parser())
    results = root.find("dcc:measurementResults/dcc:measurementResult/dcc:results", NS)
    for child in list(results):
        results.remove(child)
    for i, p in enumerate(points, 1):
        nominal = Q_(p["nominal"])
        res = etree.SubElement(results, _d("result"), refType="basic_measuringResult")
        c = etree.SubElement(etree.SubElement(res, _d("name")), _d("content"))
        c.text = f"P{i}: {p.get('function', 'DCV')} {p['nominal']}" + (f" @ {p['frequency']}" if p.get("frequency") else "")
        data = etree.SubElement(res, _d("data"))
        _quantity(data, "basic_nominalValue", "Nominal value", nominal)
        if p.get("frequency"):
            _quantity(data, "basic_frequency", "Frequency", Q_(p["frequency"]))
        error = Q_(p.get("error", 0.0), nominal.units)
        _quantity(data, "basic_measurementError", "Error of indication", error, U=Q_(p["U"]), k=p.get("k", 2.0))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@dataclass
class Body:
    id: int
    token: str
    base_url: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30, headers={"Authorization": f"Bearer {self.token}"})

    def import_scope(self, lab_id: int, content: str | bytes, name: str = "scope.csv", **form) -> httpx.Response:
        data = content.encode() if isinstance(content, str) else content
        with self.client() as c:
            return c.post(f"/api/v1/labs/{lab_id}/scopes", files={"scope": (name, data, "text/plain")},
                          data={k: str(v) for k, v in form.items()})

    def post(self, path: str, body: dict) -> httpx.Response:
        with self.client() as c:
            return c.post(path, json=body)


def make_body(platform, name: str = "DAkkS", country: str = "DE") -> Body:
    with platform.admin() as c:
        r = c.post("/api/v1/bodies", json={"name": name, "country": country})
        assert r.status_code == 201, r.text
        body_id = r.json()["id"]
        r = c.post(f"/api/v1/bodies/{body_id}/tokens")
        assert r.status_code == 201, r.text
        return Body(body_id, r.json()["token"], platform.base_url)


def lab_id(platform, name: str) -> int:
    with platform.public() as c:
        return next(lab["id"] for lab in c.get("/api/v1/labs").json() if lab["name"] == name)
