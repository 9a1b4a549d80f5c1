"""A ``multipart/form-data`` body read in one pass: the publish route's files without
Starlette's and FastAPI's form machinery.

FastAPI's ``File()`` parameters parse a form through Starlette's ``MultiPartParser`` into
spooled temporary files and then validate them field by field: ≈ 0.3–0.4 ms of the event loop's
CPU per publication of a 25 kB DCC, of which python-multipart's own parser takes 0.02 ms.
:func:`read_files` runs that parser (``python_multipart.MultipartParser``) over the body the
route has already read (capped by :class:`~labauto.platform.server.limits.BodyLimit`) and
returns the named fields' bytes, each capped at ``max_bytes``.

Errors (a :class:`FormError` with the HTTP status to answer): a body that is not
``multipart/form-data`` with a boundary, or that the parser refuses, or that ends before its
closing boundary, or that has more than :data:`MAX_PARTS` parts, or a part without a
``form-data`` name: 400; the same field twice: 422; a field over ``max_bytes``: 413.
Fields not asked for are ignored, as FastAPI ignores them.
"""
from __future__ import annotations

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

MAX_PARTS = 16          # the route takes three files; a form of thousands of parts is refused


class FormError(ValueError):
    """The form cannot be read: answer ``status`` with ``detail``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a ``multipart/form-data`` Content-Type (400 if it is not one)."""
    kind, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise FormError(400, "the request body must be multipart/form-data with a boundary "
                        f"(Content-Type was {content_type or 'missing'!r})")
    return boundary


def read_files(body: bytes, content_type: str | None, fields: tuple[str, ...],
               max_bytes: int) -> dict[str, bytes]:
    """The bytes of each of ``fields`` present in the form ``body`` (absent fields are left
    out); see the module docstring for what is refused."""
    boundary = boundary_of(content_type)
    wanted = {f.encode(): f for f in fields}
    found: dict[str, bytes] = {}
    state = {"parts": 0, "ended": False}
    header: list[bytes] = []
    name: list[str | None] = [None]
    chunks: list[bytes] = []
    size = [0]

    def on_part_begin() -> None:
        state["parts"] += 1
        if state["parts"] > MAX_PARTS:
            raise FormError(400, f"the form has more than {MAX_PARTS} parts")
        name[0], size[0] = None, 0
        chunks.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header.append(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header.append(b"\0" + data[start:end])

    def on_header_end() -> None:
        text = b"".join(header)
        header.clear()
        field, _, value = text.partition(b"\0")
        value = value.replace(b"\0", b"")
        if field.strip().lower() == b"content-disposition":
            disposition, params = parse_options_header(value)
            part = params.get(b"name")
            if disposition != b"form-data" or part is None:
                raise FormError(400, "a part of the form has no form-data name")
            name[0] = wanted.get(part, "")         # "" : a field the route does not take

    def on_headers_finished() -> None:
        if name[0] is None:
            raise FormError(400, "a part of the form has no Content-Disposition header")
        if name[0] in found:
            raise FormError(422, f"the form gives the field {name[0]!r} twice")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if not name[0]:
            return
        size[0] += end - start
        if size[0] > max_bytes:
            raise FormError(413, f"the {name[0]} file exceeds {max_bytes} bytes")
        chunks.append(data[start:end])

    def on_part_end() -> None:
        if name[0]:
            found[name[0]] = b"".join(chunks)

    def on_end() -> None:
        state["ended"] = True

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field,
        "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_part_end": on_part_end, "on_end": on_end})
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as exc:
        raise FormError(400, f"the multipart body cannot be read: {exc}") from None
    if not state["ended"]:
        raise FormError(400, "the multipart body ends before its closing boundary")
    return found
