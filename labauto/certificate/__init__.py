"""Certificate writers: JSON (``json_writer``), PTB DCC XML (``dcc_xml``), PDF (``pdf``) with
the error plot (``plot``).  Each reads a :class:`labauto.results.CalibrationResult`; signing
of the DCC is done by ``labauto.certificate.signing``."""
