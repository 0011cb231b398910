"""argparse value types shared by the sub-commands."""

from __future__ import annotations

import argparse
import math


def fraction(text: str) -> float:
    """A number strictly between 0 and 1 (a level such as 0.95 or 0.05)."""
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must lie between 0 and 1 (e.g. 0.95 or 0.05), not {text}")
    return value


def non_negative(text: str) -> float:
    """A number of points, 0 or more."""
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more points, not {text}")
    return value


def positive_int(text: str) -> int:
    """A whole number, 1 or more."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


def positive_seconds(text: str) -> float:
    """A finite number of seconds, more than 0 (not nan or inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds more than 0, not {text!r}")
    return value
