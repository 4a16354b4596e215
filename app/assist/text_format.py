"""Numbers in engine messages as people read them: ``miou 0.43412547882535674`` -> ``miou 0.434``."""

from __future__ import annotations

import re

_LONG_DECIMAL = re.compile(r"(?<![\w.])(\d+)\.(\d{4,})(?![\w.])")


def tidy_numbers(text: str, decimals: int = 3) -> str:
    """``text`` with every decimal of 4 or more digits after the point rounded to ``decimals``
    (integers, versions like ``v1.2`` and short decimals are left alone)."""
    return _LONG_DECIMAL.sub(lambda m: f"{float(m.group(0)):.{decimals}f}", text)
