"""Temperature DCCs (DCC 3.3.0) in the structure of PTB's good-practice temperature DCC.

PTB's example (``../shared/dcc/examples/valid.xml``) states a thermometer calibration as one
``dcc:result`` ``gp_measuringResult1`` holding a ``dcc:list`` ``gp_table1`` of
``basic_referenceValue`` (the reference temperature, ``si:hybrid`` of K and °C, with the
calibration points as ``basic_calibrationValue`` metadata), ``basic_measuredValue`` (the
DUT) and ``basic_measurementError`` (K, ``si:expandedUncXMLList``), the method as
``gp_temperatureSensor``, the immersion depth as ``gp_immersionDepth`` and the ambient
conditions as ``basic_temperature`` / ``basic_humidityRelative`` influence conditions.
This module writes that, and adds for a fitted sensor a second result ``labauto_fittedCurve``:
the coefficients as a D-SI ``si:list`` / ``si:realList`` with each coefficient's standard
uncertainty and the coefficients' covariance matrix (``si:ellipsoidalRegion``), their
correlation matrix, and the residuals of the fit.
"""
from __future__ import annotations

from typing import Iterable

from lxml import etree

from labauto.certificate.dcc_xml import (DCC_NS, DCC_ROOT, NSMAP, SCHEMA_VERSION, XSI_NS,
                                         _d, _equipment, _identification, _influence_conditions,
                                         _num, _s, _software, _sub, _text, administrative_core,
                                         lab_people_and_customer)
from labauto.certificate.statements import RELATES_ONLY, propagated_temperature_statement
from labauto.temperature.fits import CvdFit, ThermocoupleFit
from labauto.temperature.results import TemperatureCalibrationResult
from labauto.units import to_dsi, ureg

KELVIN = 273.15


def _xml_list(values: Iterable[float]) -> str:
    return " ".join(_num(v) for v in values)


def _real_list(parent, values: Iterable[float], unit: str, U: Iterable[float] | None = None,
               k: Iterable[float] | None = None, p: float = 0.95) -> etree._Element:
    rl = _sub(parent, _s("realListXMLList"))
    _sub(rl, _s("valueXMLList"), _xml_list(values))
    _sub(rl, _s("unitXMLList"), unit)
    if U is not None:
        ex = _sub(rl, _s("expandedUncXMLList"))
        _sub(ex, _s("uncertaintyXMLList"), _xml_list(U))
        _sub(ex, _s("coverageFactorXMLList"), _xml_list(k or []))
        _sub(ex, _s("coverageProbabilityXMLList"), _num(p))
        _sub(ex, _s("distributionXMLList"), "normal")
    return rl


def _temperatures(parent, celsius: list[float], U: list[float] | None = None,
                  k: list[float] | None = None) -> etree._Element:
    """A hybrid of the same temperatures in K and in °C (U is a difference: the same in both)."""
    hy = _sub(parent, _s("hybrid"))
    # rounded to 1 nK: adding 273.15 must not print float noise (233.16199999999998)
    _real_list(hy, [round(t + KELVIN, 9) for t in celsius], "\\kelvin", U, k)
    _real_list(hy, [round(t, 9) for t in celsius], "\\degreecelsius", U, k)
    return hy


def _name(parent, text: str) -> None:
    _text(parent, "name", text, "en")


def _admin(root, r: TemperatureCalibrationResult) -> None:
    adm = administrative_core(root, r)

    item = _sub(_sub(adm, _d("items")), _d("item"))
    _name(item, f"{r.item.manufacturer} {r.item.model}")
    _text(_sub(item, _d("manufacturer")), "name", r.item.manufacturer)
    _sub(item, _d("model"), r.item.model)
    _identification(_sub(item, _d("identifications")), "manufacturer", r.item.serial_number,
                    "Serial no.")

    lab_people_and_customer(adm, r)

    st = _sub(adm, _d("statements"))
    s = _sub(st, _d("statement"), refType="basic_traceability")
    _text(s, "declaration", r.traceability, "en")
    lo, hi = r.range
    s = _sub(st, _d("statement"), refType="basic_validityRange")
    _text(s, "declaration", "Temperature range in which the calibration was performed:", "en")
    data = _sub(s, _d("data"))
    for ref, label, t in (("basic_validityRangeMin", "Lower limit", lo),
                          ("basic_validityRangeMax", "Upper limit", hi)):
        q = _sub(data, _d("quantity"), refType=ref)
        _name(q, label)
        hy = _sub(q, _s("hybrid"))
        for value, unit in ((round(t + KELVIN, 9), "\\kelvin"), (round(t, 9), "\\degreecelsius")):
            real = _sub(hy, _s("real"))
            _sub(real, _s("value"), _num(value))
            _sub(real, _s("unit"), unit)
    s = _sub(st, _d("statement"), refType="basic_uncertainty")
    _sub(s, _d("norm"), "JCGM 100:2008 (GUM)")
    _sub(s, _d("reference"), "EA-4/02 M:2013")
    ks = sorted({round(p.k, 3) for p in r.points})
    propagated = propagated_temperature_statement(r)
    _text(s, "declaration",
          "The reported expanded uncertainty of measurement is the standard uncertainty "
          "multiplied by the coverage factor k stated for each point (k = "
          + ", ".join(f"{x:g}" for x in ks) + "), which for a normal distribution corresponds "
          "to a coverage probability of approximately 95 %. It was evaluated according to the "
          "GUM and EA-4/02; the contributions of each point are listed in the PDF's annex."
          + (" " + propagated if propagated else ""), "en")
    s = _sub(st, _d("statement"), refType="labauto_itemConditionOnReceipt")
    _text(s, "declaration", f"Condition of the item on receipt: {r.item_condition_statement}", "en")
    s = _sub(st, _d("statement"), refType="labauto_adjustment")
    _text(s, "declaration", r.adjustment_statement, "en")
    s = _sub(st, _d("statement"), refType="labauto_resultsRelateOnlyToItem")
    _text(s, "declaration", RELATES_ONLY, "en")
    for remark in r.remarks:
        _text(_sub(st, _d("statement")), "declaration", remark, "en")


def _methods(mr, r: TemperatureCalibrationResult) -> None:
    um = _sub(mr, _d("usedMethods"))
    m = _sub(um, _d("usedMethod"), refType="basic_calibrationProcedure")
    _name(m, f"{r.procedure.id} {r.procedure.title}")
    _text(m, "description", f"Procedure {r.procedure.id} version {r.procedure.version}, file "
          f"{r.procedure.path}, SHA-256 {r.procedure.sha256}", "en")
    _sub(m, _d("reference"), f"{r.procedure.id} v{r.procedure.version} sha256:{r.procedure.sha256}")
    norms, description = r.method
    m = _sub(um, _d("usedMethod"), refType="gp_temperatureSensor")
    _name(m, description)
    _text(m, "description", "Comparison with a reference thermometer in a stabilised heat "
          "source; the reference temperature is the mean of the reference thermometer's readings "
          "evaluated with its calibration certificate (ITS-90).", "en")
    _sub(m, _d("norm"), norms)
    m = _sub(um, _d("usedMethod"), refType="basic_uncertainty")
    _name(m, "Expanded uncertainty")
    _sub(m, _d("norm"), "JCGM 100:2008")
    if r.fit is not None:
        m = _sub(um, _d("usedMethod"), refType="labauto_curveFit")
        _name(m, "Fitted characteristic")
        _text(m, "description", _fit_description(r.fit), "en")
        _sub(m, _d("norm"), "IEC 60751:2022" if isinstance(r.fit, CvdFit) else "IEC 60584-1:2013")


def _fit_description(fit) -> str:
    how = ("weighted least squares with the points' standard uncertainties" if fit.method == "WLS"
           else "ordinary least squares (u(y) from the residuals)")
    if isinstance(fit, CvdFit):
        eq = ("R(t) = R0 [1 + A t + B t^2 + C (t - 100 °C) t^3], C for t < 0 °C only "
              "(Callendar–Van Dusen, IEC 60751)")
        held = "; ".join(f"{k} held at {v:.6g}" for k, v in fit.fixed.items())
        return f"{eq}; fitted: {', '.join(fit.fitted)} by {how}" + (f"; {held}" if held else "") + \
            f"; {fit.n} points, {fit.dof} degrees of freedom."
    return (f"E(t) = E_ref(t) + sum d_k t^k, E_ref the type {fit.letter} reference function of "
            f"IEC 60584-1, t in °C, E in mV; degree {fit.degree}, by {how}; {fit.n} points, "
            f"{fit.dof} degrees of freedom.")


def _results(mr, r: TemperatureCalibrationResult) -> None:
    results = _sub(mr, _d("results"))
    res = _sub(results, _d("result"), refType="gp_measuringResult1")
    _name(res, "Measuring results")
    lst = _sub(_sub(res, _d("data")), _d("list"), refType="gp_table1")
    pts = r.points
    k = [p.k for p in pts]

    q = _sub(lst, _d("quantity"), refType="basic_referenceValue")
    _name(q, "Reference temperature at the sensor (t_X)")
    _temperatures(q, [p.reference_temperature for p in pts],
                  [p.k * float(p.reference_budget.combined_uncertainty.magnitude) for p in pts], k)
    md = _sub(_sub(q, _d("measurementMetaData")), _d("metaData"), refType="basic_calibrationValue")
    _text(md, "declaration", "Calibration temperature t, at which the results are stated", "en")
    _temperatures(_sub(_sub(md, _d("data")), _d("quantity")), [p.nominal for p in pts])

    q = _sub(lst, _d("quantity"), refType="basic_measuredValue")
    if r.dut_kind == "indicating":
        _name(q, "Indicated value of the calibration item (mean)")
        _temperatures(q, [sum(p.point.dut) / len(p.point.dut) for p in pts])
    else:
        what = "Resistance" if r.dut_kind == "prt" else "Thermoelectric voltage (reference junction at 0 °C)"
        _name(q, f"{what} of the calibration item at the calibration temperature")
        _real_list(q, [p.value for p in pts], to_dsi(ureg.Unit(r.value_unit)),
                   [p.U for p in pts], k)

    q = _sub(lst, _d("quantity"), refType="basic_measurementError")
    _name(q, "Measurement error" + (" (against the nominal characteristic: "
                                    + ("IEC 60751" if r.dut_kind == "prt" else "IEC 60584-1") + ")"
                                    if r.dut_kind != "indicating" else ""))
    _real_list(q, [p.error for p in pts], "\\kelvin", [p.U_error for p in pts], k)

    if r.fit is not None:
        _fit_result(results, r.fit)


def _fit_result(results, fit) -> None:
    res = _sub(results, _d("result"), refType="labauto_fittedCurve")
    _name(res, "Fitted characteristic: " + ("Callendar–Van Dusen coefficients"
                                            if isinstance(fit, CvdFit) else
                                            f"deviation from the type {fit.letter} reference function"))
    _text(res, "description", _fit_description(fit), "en")
    data = _sub(res, _d("data"))
    if isinstance(fit, CvdFit):
        units = {"R0": "ohm", "A": "1/K", "B": "1/K**2", "C": "1/K**4"}
        names = list(fit.fitted)
        values = fit.coefficients
        fixed = fit.fixed
    else:
        names = list(fit.names)
        units = {n: "mV" if i == 0 else f"mV/K**{i}" for i, n in enumerate(names)}
        values = fit.coefficients
        fixed = {}
    u = fit.standard_uncertainties
    cov = fit.covariance
    q = _sub(data, _d("quantity"), refType="labauto_fitCoefficients")
    _name(q, "Fitted coefficients with standard uncertainties and covariance matrix")
    rl = _sub(_sub(q, _s("list")), _s("realList"))
    for n in names:
        real = _sub(rl, _s("real"))
        _sub(real, _s("label"), n)
        _sub(real, _s("value"), _num(values[n]))
        _sub(real, _s("unit"), to_dsi(ureg.Unit(units[n])))
        mu = _sub(_sub(real, _s("measurementUncertaintyUnivaraite")), _s("standardMU"))
        _sub(mu, _s("valueStandardMU"), _num(u[n]))
    region = _sub(rl, _s("ellipsoidalRegion"))
    cm = _sub(region, _s("covarianceMatrix"))
    for j, nj in enumerate(names):
        col = _sub(cm, _s("column"))
        for i, ni in enumerate(names):
            c = _sub(col, _s("covariance"))
            _sub(c, _s("value"), _num(cov[i, j]))
            _sub(c, _s("unit"), to_dsi(ureg.Unit(units[ni]) * ureg.Unit(units[nj])))
    _sub(region, _s("coverageFactor"), "1")
    _sub(region, _s("coverageProbability"), _num(_chi2_cover(len(names))))
    q = _sub(data, _d("quantity"), refType="labauto_fitCorrelation")
    _name(q, "Correlation matrix of the fitted coefficients, row by row, order " + ", ".join(names))
    _real_list(q, [float(x) for x in fit.correlation.reshape(-1)], "\\one")
    for n, v in fixed.items():
        q = _sub(data, _d("quantity"), refType="labauto_fitHeldCoefficient")
        _name(q, f"Coefficient {n}, held (not fitted)")
        real = _sub(q, _s("real"))
        _sub(real, _s("value"), _num(v))
        _sub(real, _s("unit"), to_dsi(ureg.Unit(units[n])))
    q = _sub(data, _d("quantity"), refType="labauto_fitResiduals")
    _name(q, "Residuals of the fit at the calibration temperatures (as temperature differences)")
    _real_list(q, [float(x) for x in fit.residuals_temperature], "\\kelvin")


def _chi2_cover(p: int) -> float:
    """The probability that a p-variate normal lies within its 1-sigma ellipsoid (k = 1)."""
    from scipy import stats

    return float(stats.chi2.cdf(1.0, p))


def build_temperature_dcc(result: TemperatureCalibrationResult) -> bytes:
    """The unsigned DCC 3.3.0 XML (UTF-8 bytes) of a temperature calibration."""
    r = result
    root = etree.Element(DCC_ROOT, nsmap=NSMAP)
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{DCC_NS} {DCC_NS}/v{SCHEMA_VERSION}/dcc.xsd")
    root.set("schemaVersion", SCHEMA_VERSION)
    _admin(root, r)
    mr = _sub(_sub(root, _d("measurementResults")), _d("measurementResult"))
    _name(mr, r.title)
    _methods(mr, r)
    _software(_sub(mr, _d("usedSoftware")))
    mes = _sub(mr, _d("measuringEquipments"))
    for e in r.standards:
        _equipment(mes, e)
    if r.environment or r.immersion_depth_m is not None:
        _conditions(mr, r)
    _results(mr, r)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _conditions(mr, r: TemperatureCalibrationResult) -> None:
    if r.environment:
        _influence_conditions(mr, r.environment)
        ics = mr.find(_d("influenceConditions"))
    else:
        ics = _sub(mr, _d("influenceConditions"))
    if r.immersion_depth_m is not None:
        ic = etree.Element(_d("influenceCondition"), refType="gp_immersionDepth")
        ics.insert(0, ic)
        _name(ic, "Immersion depth of the calibration item")
        q = _sub(_sub(ic, _d("data")), _d("quantity"))
        _name(q, "Immersion depth")
        real = _sub(q, _s("real"))
        _sub(real, _s("value"), _num(r.immersion_depth_m))
        _sub(real, _s("unit"), "\\metre")


__all__ = ["build_temperature_dcc"]
