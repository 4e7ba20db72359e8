"""A batch of JSON values encoded by one call of the C encoder, then cut into the values.

:func:`hyperframe.encodings._json_encode` costs a few Python calls per value (the encoder's
entry points, a regular expression over the text, the depth count); a batch of 100,000
values pays them 100,000 times. Here the whole batch is one JSON array, encoded in one C
call, and its text is scanned with NumPy for what those calls look for, all values at
once; only the values that need it go through ``_json_encode`` again. The bytes are the
same, value by value (``tests/core/test_batch_fast.py`` compares them).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .encodings import _INDEX_KEY, MAX_DEPTH, _json_encode

if TYPE_CHECKING:
    import numpy as np

#: the C encoder behind ``encodings._fast_dumps`` (None without it: then batches go value
#: by value). No markers for circular references: a cycle recurses until RecursionError,
#: and the value-by-value path then reports it for the right value.
_c_make_encoder: Callable[..., Callable[[Any, int], list[str]]] | None = getattr(json.encoder, "c_make_encoder", None)
_dumps = (
    None
    if _c_make_encoder is None
    else _c_make_encoder(None, None, json.encoder.encode_basestring, None, ":", ",", False, False, True)
)
_QUOTE, _BACKSLASH, _COLON, _COMMA = 0x22, 0x5C, 0x3A, 0x2C
_OPEN, _CLOSE = (0x5B, 0x7B), (0x5D, 0x7D)  # [ {   ] }
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 16


def encode_whole(values: Sequence[Any]) -> list[bytes] | None:
    """The bytes ``_json_encode`` gives for each value, or None when a value needs what only
    the value-by-value path does (it raises, or nests too deep).

    Quotes not escaped by an odd run of backslashes delimit the strings; outside them,
    brackets give the depth and the commas at depth 1 are the cuts between values. A value
    holding a token on which Python's text and JavaScript's differ (what
    ``encodings._NEEDS_EXACT`` looks for: ``1.0``, ``1e-07``, ``1e+16``, ``NaN``,
    ``Infinity``, 16 digits in a row, an object key that looks like an array index) is
    encoded again by ``_json_encode``. Those tokens are looked for outside strings only,
    since both encoders write strings alike.

    >>> encode_whole([{"b": [1.5, "x,]"]}, 1.0, "é"] * 22)[:3]
    [b'{"b":[1.5,"x,]"]}', b'1', b'"\\xc3\\xa9"']
    """
    if _dumps is None:
        return None
    try:
        raw = "".join(_dumps(values if isinstance(values, list) else list(values), 0)).encode("utf-8")
    except Exception:  # noqa: BLE001 (whatever it is, the value-by-value path raises it for the right value)
        return None
    import numpy as np

    text = np.frombuffer(raw, dtype=np.uint8)
    quotes = _string_quotes(text, raw)
    if len(quotes) % 2:
        return None
    # inside strings: from an opening quote to just before its closing one
    runs = np.diff(np.concatenate(([0], quotes, [len(text)])))
    inside = np.repeat(np.arange(len(runs)) % 2 == 1, runs)
    marks = np.flatnonzero(
        ((text == _COMMA) | (text == _OPEN[0]) | (text == _OPEN[1]) | (text == _CLOSE[0]) | (text == _CLOSE[1]))
        > inside
    )
    kinds = text[marks]
    steps = (kinds == _OPEN[0]).astype(np.int32) + (kinds == _OPEN[1]) - (kinds == _CLOSE[0]) - (kinds == _CLOSE[1])
    depth = np.cumsum(steps)
    if int(depth.max()) > MAX_DEPTH + 1:  # one level is the array around the batch
        return None
    cuts = marks[(kinds == _COMMA) & (depth == 1)]
    starts = np.concatenate(([1], cuts + 1))
    if len(starts) != len(values):
        return None
    out = [raw[a:b] for a, b in zip(starts.tolist(), [*cuts.tolist(), len(raw) - 1])]
    at = _differing(text, inside, raw, quotes)
    if at:
        for row in set(np.searchsorted(starts, np.array(at), side="right").tolist()):
            out[row - 1] = _json_encode(values[row - 1])
    return out


def _string_quotes(text: np.ndarray, raw: bytes) -> np.ndarray:
    """Positions of the quotes that open and close strings (a backslash appears only in a
    string, and a quote after an odd run of them is part of the string)."""
    import numpy as np

    quotes = np.flatnonzero(text == _QUOTE)
    if b"\\" not in raw:
        return quotes
    slashes = np.flatnonzero(text == _BACKSLASH)
    run_starts = np.flatnonzero(np.diff(slashes, prepend=-2) != 1)
    run_stops = np.append(run_starts[1:], len(slashes))
    odd_ends = slashes[run_stops - 1][(run_stops - run_starts) % 2 == 1]
    return quotes[~np.isin(quotes - 1, odd_ends)]


def _differing(text: np.ndarray, inside: np.ndarray, raw: bytes, quotes: np.ndarray) -> list[int]:
    """Positions of tokens outside strings where JavaScript's text may differ from Python's."""
    import numpy as np

    last = len(text) - 1
    at: list[int] = []
    odd = np.flatnonzero(((text == 0x2E) | (text == 0x65) | (text == 0x4E) | (text == 0x49)) > inside)  # . e N I
    if len(odd):
        first, second, third = text[odd], text[odd + 1], text[np.minimum(odd + 2, last)]
        integral = (
            (first == 0x2E) & (second == 0x30) & ((third == _COMMA) | (third == _CLOSE[0]) | (third == _CLOSE[1]))
        )
        exponent = (first == 0x65) & ((second == 0x2B) | (second == 0x2D))  # e+ e-: true and false have no sign
        at += odd[integral | exponent | (first == 0x4E) | (first == 0x49)].tolist()  # NaN, Infinity
    digits = raw.translate(_DIGITS_AS_ZERO)
    found = digits.find(_LONG_DIGITS)  # maybe an integer past 2**53 (digits in strings do not count)
    while found >= 0:
        if not inside[found]:
            at.append(found)
        found = digits.find(_LONG_DIGITS, found + len(_LONG_DIGITS))
    opening, closing = quotes[0::2], quotes[1::2]  # keys: strings followed by a colon
    after, lead = text[np.minimum(closing + 1, last)], text[opening + 1]
    maybe = (after == _COLON) & (lead >= 0x30) & (lead <= 0x39)
    for start, stop in zip(opening[maybe].tolist(), closing[maybe].tolist()):
        if _INDEX_KEY.fullmatch(raw[start + 1 : stop].decode("utf-8")):
            at.append(start)
    return at
