"""Issue a temperature certificate: the DCC (PTB's good-practice temperature structure), the PDF
and the JSON, signed, time-stamped, written durably and queued for publishing exactly like
every other labauto certificate (:func:`labauto.issuing.issue_documents`).

    from labauto.temperature.issue import issue_temperature_certificate
    issued = issue_temperature_certificate(result, out_dir, lab=lab)   # IssuedCertificate

``result`` is a :class:`~labauto.temperature.results.TemperatureCalibrationResult`: the run's
administrative data, the per-point results of :func:`labauto.temperature.budgets.point_budget`
and the fitted characteristic (:mod:`labauto.temperature.fits`).
"""
from __future__ import annotations

from pathlib import Path

from labauto.certificate.temperature_dcc import build_temperature_dcc
from labauto.certificate.temperature_pdf import render_temperature_pdf
from labauto.issuing import IssuedCertificate, issue_documents
from labauto.lab import LabConfig
from labauto.temperature.results import TemperatureCalibrationResult


def issue_temperature_certificate(result: TemperatureCalibrationResult, out_dir: Path, *,
                                  lab: LabConfig, verify_base_url: str | None = None,
                                  journal: Path | None = None, queue: bool = True) -> IssuedCertificate:
    """Write ``<out_dir>/<certificate id>/certificate.{xml,pdf,json}`` (signed) and queue the DCC."""
    return issue_documents(
        result.certificate_id, out_dir, lab=lab, unsigned_dcc=build_temperature_dcc(result),
        render_pdf=lambda sha, url: render_temperature_pdf(result, dcc_sha256=sha, verify_url=url,
                                                           pades_signed=True),
        json_document=result.to_json(), verify_base_url=verify_base_url, journal=journal,
        queue=queue)


__all__ = ["issue_temperature_certificate"]
