"""Data files fail with file and line: the YAML loader keeps positions."""
import pytest

from labauto.errors import SourceError
from labauto.yamlsource import load, loads

TEXT = """\
a: 1
b:
  c: 2
  d:
    - x: 3
    - x: 4
"""


def test_lines_of_nested_keys():
    doc = loads(TEXT, "f.yaml")
    assert doc.source.line(("a",)) == 1
    assert doc.source.line(("b", "c")) == 3
    assert doc.source.line(("b", "d", 1, "x")) == 6
    assert doc.source.line(("b", "d", 1, "missing")) == 6   # nearest ancestor
    err = doc.source.error(("b", "d", 0, "x"), "bad x")
    assert str(err) == "f.yaml:5: bad x" and err.line == 5


def test_syntax_error_has_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("a: 1\nb: [1, 2\nc: 3\n")
    with pytest.raises(SourceError) as e:
        load(p)
    assert e.value.path == str(p) and e.value.line in (2, 3) and "not valid YAML" in str(e.value)


def test_duplicate_key_refused():
    with pytest.raises(SourceError, match=r"f.yaml:3: .*duplicate key 'a' \(first at line 1\)"):
        loads("a: 1\nb: 2\na: 3\n", "f.yaml")


def test_hash_is_of_file_bytes(tmp_path):
    import hashlib
    p = tmp_path / "x.yaml"
    p.write_bytes(b"a: 1\n")
    assert load(p).sha256 == hashlib.sha256(b"a: 1\n").hexdigest()
