"""The simulated lab: coupled, physical DMM + calibrator over raw SCPI sockets (loopback)."""
from labauto.sim.lab import SimulatedLab, parse_out_of_tolerance
from labauto.sim.physics import Truth

__all__ = ["SimulatedLab", "Truth", "parse_out_of_tolerance"]
