"""The NQI sharing platform: the reference server (``server``), its self-managed CA (``pki``),
its command line (``cli``), and the lab-side client, outbox and publisher.

Calibration certificates (signed PTB DCC XML) are published, verified, searched, linked into
traceability chains and revoked here, so labs and CI can run the whole chain end to end.
"""
