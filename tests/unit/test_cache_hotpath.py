"""
The hot-path shortcuts of dxltieclient._wire (issue #11, point 2) give exactly what the straight
computations give: the constants tables read once at import, and the direct binascii conversions.
"""

from __future__ import annotations

import base64
import binascii

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dxltieclient import _wire
from dxltieclient.constants import FileProvider, FileType, HashType, TrustLevel


@pytest.mark.parametrize("constant", [TrustLevel, FileType, FileProvider, HashType])
def test_constant_tables_match_a_fresh_reading(constant: type) -> None:
    fresh = {name: getattr(constant, name) for name in dir(constant) if name.isupper()}
    assert _wire.constant_values(constant) == fresh
    table = _wire.constant_values(constant)
    table.clear()  # a caller mutating its copy changes nothing
    assert _wire.constant_values(constant) == fresh


@pytest.mark.parametrize("constant", [TrustLevel, FileType, FileProvider])
@pytest.mark.parametrize("value", [0, 1, 15, 50, 99, 100, 2048, 12288, 7, -1, 1.0, True, None,
                                   "1", [1], {}])
def test_valid_parameter_matches_the_original_test(constant: type, value: object) -> None:
    original = any(getattr(constant, name) == value for name in dir(constant)
                   if not name.startswith("__"))
    assert _wire.valid_parameter(constant, value) is original


@given(st.binary(max_size=64))
def test_base64_conversions_match_the_base64_module(data: bytes) -> None:
    hex_value = binascii.hexlify(data).decode("ascii")
    expected = base64.b64encode(data).decode("ascii")
    assert _wire.hex_to_base64(hex_value) == expected
    assert _wire.hex_to_base64(hex_value.upper().encode("ascii")) == expected
    assert _wire.base64_to_hex(expected) == hex_value
    assert _wire.base64_to_hex(expected.encode("ascii")) == hex_value


def test_conversion_errors_keep_their_types() -> None:
    with pytest.raises(binascii.Error):
        _wire.hex_to_base64("abc")
    with pytest.raises(TypeError):
        _wire.hex_to_base64(None)  # type: ignore[arg-type]
    with pytest.raises(binascii.Error):
        _wire.base64_to_hex("abc")
    with pytest.raises(ValueError):
        _wire.base64_to_hex("\u00e9t\u00e9")
