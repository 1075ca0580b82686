import json
from pathlib import Path

import lzstring
import pytest

from magpie.capture.lzstring import decompress_from_base64
from magpie.errors import PayloadTooLarge, RequestDecodingError

# Produced by the JavaScript lz-string 1.5.0 (the library posthog-js used).
VECTORS = json.loads((Path(__file__).parent / "lzstring_vectors.json").read_text())


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["input"][:20] or "empty")
def test_decodes_what_the_javascript_library_encodes(vector: dict) -> None:
    assert decompress_from_base64(vector["lz64"], 1 << 20) == vector["input"].encode("utf-8")


def test_round_trip_of_a_large_payload() -> None:
    text = json.dumps(
        [{"event": f"e{i}", "properties": {"i": i, "s": "ü🦜" * (i % 7)}} for i in range(2000)]
    )
    encoded = lzstring.LZString().compressToBase64(text)
    assert decompress_from_base64(encoded, 1 << 22) == text.encode()


def test_output_is_capped_while_decompressing() -> None:
    encoded = lzstring.LZString().compressToBase64("a" * 100_000)
    assert len(encoded) < 2000
    with pytest.raises(PayloadTooLarge):
        decompress_from_base64(encoded, 10_000)


@pytest.mark.parametrize("garbage", ["!!!!", "N4Igh", "AAAAAAAAAAAA", "////////"])
def test_garbage_is_a_decoding_error(garbage: str) -> None:
    with pytest.raises(RequestDecodingError):
        decompress_from_base64(garbage, 1 << 20)
