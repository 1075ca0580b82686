"""``multipart/form-data`` bodies (file uploads from a browser or an SDK), read with
the standard library's MIME parser: fields as text, files as bytes."""

from __future__ import annotations

from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP

from magpie.errors import InvalidInput

FormValue = str | bytes


def parse_form(body: bytes, content_type: str) -> dict[str, FormValue]:
    """Each part by its name: a file (a part with a filename) as its bytes, any other
    field as text. A name sent twice keeps its last value."""
    if "boundary=" not in content_type:
        raise InvalidInput("a multipart body needs a boundary in its Content-Type")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise InvalidInput("the multipart body could not be read")
    fields: dict[str, FormValue] = {}
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        fields[str(name)] = _value(part)
    return fields


def _value(part: Message) -> FormValue:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    if part.get_filename() is not None:
        return data
    try:
        return data.decode(part.get_content_charset() or "utf-8")
    except (LookupError, UnicodeDecodeError):
        raise InvalidInput("a form field is not valid text") from None
