"""Units of reported and reproduced numbers, and the one place that converts between them.

A paper prints clustering accuracy in percent; the reproduction computes it as a fraction.
Every unit belongs to a *dimension* whose canonical unit is the one reproduced numbers are
stored in (``results.csv``) and tolerances are written in (``<paper>.yaml``):

========  =========================  ==============
unit      meaning                    canonical unit
========  =========================  ==============
fraction  a ratio in [0, 1]          fraction
%         percent                    fraction (x 0.01)
s         seconds                    s
ms        milliseconds               s (x 0.001)
min       minutes                    s (x 60)
h         hours ("0.9 hr")           s (x 3600)
MB        megabytes (as printed)     MB
GB        gigabytes (2^10 MB)        MB (x 1024)
bytes     bytes (2^-20 MB)           MB (x 2^-20)
x         a ratio of two costs       x (a speed-up: 12 x faster)
count     a number of things done    count (epochs or steps run, restarts, threads, a 0/1 flag)
========  =========================  ==============

Converting between units of different dimensions ("%" -> "s") is an error naming both.
No unit has an offset, so spreads (std, tolerance, difference) convert exactly like values.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

# unit -> (canonical unit, exact factor taking a value in `unit` to the canonical unit)
_UNITS: dict[str, tuple[str, Fraction]] = {
    "fraction": ("fraction", Fraction(1)),
    "%": ("fraction", Fraction(1, 100)),
    "s": ("s", Fraction(1)),
    "ms": ("s", Fraction(1, 1000)),
    "min": ("s", Fraction(60)),
    "h": ("s", Fraction(3600)),
    "MB": ("MB", Fraction(1)),
    "bytes": ("MB", Fraction(1, 2**20)),
    "GB": ("MB", Fraction(1024)),
    "x": ("x", Fraction(1)),
    "count": ("count", Fraction(1)),
}

KNOWN_UNITS: tuple[str, ...] = tuple(_UNITS)


class UnitError(ValueError):
    """An unknown unit, or a conversion between units of different dimensions."""


def check_unit(unit: str) -> str:
    """Return ``unit`` unchanged if it is known, else raise :class:`UnitError` naming it."""
    if unit not in _UNITS:
        raise UnitError(f"unknown unit {unit!r}; known units: {', '.join(KNOWN_UNITS)}")
    return unit


def canonical_unit(unit: str) -> str:
    """The unit reproduced numbers and tolerances use for ``unit``'s dimension ("%" -> "fraction")."""
    return _UNITS[check_unit(unit)][0]


def convert(value, from_unit: str, to_unit: str):
    """``value`` (scalar or array) expressed in ``from_unit``, converted to ``to_unit``.

    ``convert(54.24, "%", "fraction") == 0.5424``; NaN stays NaN; same unit is the identity
    (the value is returned as given, so a reported 54.24 stays exactly 54.24).
    """
    if from_unit == to_unit:
        check_unit(from_unit)
        return value
    base_from, factor_from = _UNITS[check_unit(from_unit)]
    base_to, factor_to = _UNITS[check_unit(to_unit)]
    if base_from != base_to:
        raise UnitError(f"cannot convert {from_unit!r} ({base_from}) to {to_unit!r} ({base_to})")
    ratio = factor_from / factor_to  # exact, so 54.24 % -> 54.24 / 100, correctly rounded
    scaled = np.asarray(value, dtype=float) * ratio.numerator / ratio.denominator
    return float(scaled) if np.ndim(scaled) == 0 else scaled

