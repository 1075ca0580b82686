"""LZ-String ``decompressFromBase64``, as old posthog-js sends with ``compression=lz64``.

The output is capped while decompressing so a small payload cannot expand
without bound.
"""

from __future__ import annotations

from magpie.errors import PayloadTooLarge, RequestDecodingError

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_VALUE = {char: index for index, char in enumerate(_ALPHABET)}
_VALUE["-"] = _VALUE["+"]  # url-safe variants seen from some proxies
_VALUE["_"] = _VALUE["/"]


class _BitReader:
    """Reads bits from 6-bit base64 digits, most significant bit first."""

    def __init__(self, text: str) -> None:
        try:
            self._values = [_VALUE[c] for c in text if c not in " \r\n\t"]
        except KeyError as exc:
            raise RequestDecodingError(f"invalid lz64 character {exc.args[0]!r}") from None
        self._index = 0
        self._position = 32  # 1 << 5: the top bit of a 6-bit digit

    def exhausted(self) -> bool:
        return self._index >= len(self._values)

    def read(self, count: int) -> int:
        bits = 0
        for power in range(count):
            if self._index >= len(self._values):
                raise RequestDecodingError("lz64 payload ends early")
            if self._values[self._index] & self._position:
                bits |= 1 << power
            self._position >>= 1
            if self._position == 0:
                self._position = 32
                self._index += 1
        return bits


def decompress_from_base64(text: str, limit: int) -> bytes:
    """Decode an LZ-String base64 payload to UTF-8 bytes of at most ``limit`` bytes."""
    reader = _BitReader(text)
    dictionary: list[str] = ["", "", ""]
    literal = _read_literal(reader, reader.read(2))
    if literal is None:
        return b""
    dictionary.append(literal)
    previous = literal
    output = [literal]
    size = len(literal)
    enlarge_in, num_bits = 4, 3
    while True:
        if reader.exhausted():
            raise RequestDecodingError("lz64 payload ends early")
        code = reader.read(num_bits)
        if code in (0, 1):
            dictionary.append(chr(reader.read(8 if code == 0 else 16)))
            code = len(dictionary) - 1
            enlarge_in -= 1
            if enlarge_in == 0:
                enlarge_in, num_bits = 1 << num_bits, num_bits + 1
        elif code == 2:
            return _utf16_units_to_utf8("".join(output))
        if code < len(dictionary):
            entry = dictionary[code]
        elif code == len(dictionary):
            entry = previous + previous[0]
        else:
            raise RequestDecodingError("corrupt lz64 payload")
        output.append(entry)
        size += len(entry)
        if size > limit:
            raise PayloadTooLarge("decompressed payload exceeds the size limit")
        dictionary.append(previous + entry[0])
        enlarge_in -= 1
        previous = entry
        if enlarge_in == 0:
            enlarge_in, num_bits = 1 << num_bits, num_bits + 1


def _read_literal(reader: _BitReader, code: int) -> str | None:
    if code == 2:
        return None
    if code not in (0, 1):
        raise RequestDecodingError("corrupt lz64 payload")
    return chr(reader.read(8 if code == 0 else 16))


def _utf16_units_to_utf8(units: str) -> bytes:
    # LZ-String works on UTF-16 code units, so characters outside the BMP
    # arrive as surrogate pairs that must be recombined.
    try:
        return units.encode("utf-16-le", "surrogatepass").decode("utf-16-le").encode("utf-8")
    except UnicodeError:
        raise RequestDecodingError("lz64 payload is not valid text") from None
