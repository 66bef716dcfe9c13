"""Points in time as people send them: RFC 3339 text with an offset, or epoch seconds."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any


def parse_timestamp(raw: Any) -> float:
    """Epoch seconds for ``2027-01-15T08:00:00Z`` (any offset) or a number of epoch
    seconds; ValueError, saying what is accepted, for anything else."""
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw.upper())  # RFC 3339 allows "t" and "z"
        except ValueError:
            raise ValueError(f"{raw!r} is not an RFC 3339 timestamp") from None
        if parsed.tzinfo is None:
            raise ValueError(f"{raw!r} needs a UTC offset (Z or +hh:mm)")
        return parsed.timestamp()
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        try:
            if math.isfinite(raw):
                return float(raw)
        except OverflowError:  # an int beyond float range (json.loads keeps 10**400 exact)
            pass
    raise ValueError("must be epoch seconds or an RFC 3339 string")
