"""Validate a procedure by simulation (ISO/IEC 17025 7.2.2): repeated simulated calibrations
whose true errors are known check the uncertainty statements (coverage), the decision rule's
risks and the normalized errors; injected faults check that nothing is lost or done twice.

    labauto.validation.loopback    the simulated instruments in-process (no sockets)
    labauto.validation.truth       the reference's true errors drawn from its specification
                                   (a reference thermometer's from its certificate)
    labauto.validation.montecarlo  N simulated runs -> per-point measured and true errors
    labauto.validation.comparison  the same for a temperature comparison procedure
    labauto.validation.stats       coverage (Clopper-Pearson), decision risks, KS test
    labauto.validation.report      the HTML validation report
    labauto.validation.faults      the fault scenarios
    labauto.validation.cli         ``labauto validate``
"""
