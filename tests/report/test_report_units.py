import numpy as np
import pytest

from repro.report.units import UnitError, canonical_unit, check_unit, convert


def test_percent_to_fraction_and_back():
    assert convert(54.24, "%", "fraction") == pytest.approx(0.5424, abs=1e-15)
    assert convert(0.5424, "fraction", "%") == pytest.approx(54.24, abs=1e-12)
    assert convert(50.0, "%", "fraction") == 0.5


def test_same_unit_is_identity_and_keeps_the_object():
    value = 89.54
    assert convert(value, "%", "%") is value


def test_time_units_and_arrays():
    np.testing.assert_allclose(convert([1.0, 2.5], "min", "s"), [60.0, 150.0])
    assert convert(1500.0, "ms", "s") == 1.5
    assert np.isnan(convert(float("nan"), "%", "fraction"))


def test_canonical_units():
    assert canonical_unit("%") == "fraction"
    assert canonical_unit("fraction") == "fraction"
    assert canonical_unit("ms") == "s"
    assert canonical_unit("MB") == "MB"


def test_incompatible_and_unknown_units_are_errors_naming_them():
    with pytest.raises(UnitError, match="'%'.*'s'"):
        convert(1.0, "%", "s")
    with pytest.raises(UnitError, match="'percent'"):
        check_unit("percent")
    with pytest.raises(UnitError, match="'GiB'"):
        convert(1.0, "GiB", "MB")
