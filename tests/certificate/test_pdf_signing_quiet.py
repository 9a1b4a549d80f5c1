"""Every run printed pyHanko's import-time warning (cryptography's CryptographyDeprecationWarning
about DSA, two lines with a site-packages path) between the progress bars: noise a technician
reads as a fault.  Signing and checking a PDF, and time-stamping, import pyHanko quietly."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
from labauto.certificate.pdf_signing import verify_pdf
check = verify_pdf(b'%PDF-1.7 not a pdf', [])
print(check.ok, check.reason)
"""


def test_checking_a_pdf_prints_no_pyhanko_import_warning():
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONWARNINGS="default")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("False the PDF cannot be read"), proc.stdout
    assert "DSA is deprecated" not in proc.stderr, proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr
