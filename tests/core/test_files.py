from __future__ import annotations

import stat

from labauto.files import write_durably


def test_write_durably_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "certificate.xml"
    write_durably(target, b"first")
    write_durably(target, b"second")
    assert target.read_bytes() == b"second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["certificate.xml"]


def test_private_files_are_readable_by_the_owner_only(tmp_path):
    key = tmp_path / "lab.key.pem"
    write_durably(key, b"-----BEGIN PRIVATE KEY-----", private=True)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
