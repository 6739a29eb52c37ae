"""Cutting and reading text held in Arrow buffers without a Python object per value.

Shared by the landing parser (stream files) and silver's bulk payload reader: both find
field boundaries with numpy and slice the original bytes into Arrow strings.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def to_numpy(array: pa.Array) -> np.ndarray:
    """An Arrow array as numpy, copying only when it must (nulls, strings)."""
    return array.to_numpy(zero_copy_only=False)


def char_positions(chars: np.ndarray, char: str) -> np.ndarray:
    """Where an ASCII character occurs, found a block at a time: no full-size temporary."""
    block = 1 << 18
    found = [
        np.flatnonzero(chars[i : i + block] == ord(char)) + i for i in range(0, len(chars), block)
    ]
    return np.concatenate(found) if found else np.empty(0, np.int64)


def text_spans(data: pa.Buffer, *spans: tuple[np.ndarray, np.ndarray]) -> pa.Array:
    """The texts data[start:stop] of the (starts, stops) given, record after record: record
    r's span in the first, then in the second, ... All must be in order, without overlap."""
    cuts = np.empty((len(spans[0][0]), 2 * len(spans)), np.int64)
    for i, (start, stop) in enumerate(spans):
        cuts[:, 2 * i], cuts[:, 2 * i + 1] = start, stop
    pieces = pa.LargeStringArray.from_buffers(cuts.size - 1, pa.py_buffer(cuts.ravel()), data)
    return pc.take(pieces, np.arange(0, cuts.size, 2))  # without the text between spans
