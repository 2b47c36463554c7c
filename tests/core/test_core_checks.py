"""Generic input checks of isaclearn.core.checks: what passes, what is converted to what, and
which error names the argument."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isaclearn.core import (
    ConfigError,
    ShapeError,
    ValueRangeError,
    as_batch_param,
    as_per_instance,
    as_positive_per_item,
    as_real,
    check_complex_matrices,
    check_count,
)

C64 = torch.complex64


@pytest.mark.parametrize("value", [1, 7, np.int64(3), torch.tensor(2)])
def test_check_count_accepts_integers(value: object) -> None:
    check_count(value, "num_rx")


@pytest.mark.parametrize("value", [0, -1, True, 2.0, "3", None, 1.5])
def test_check_count_rejects(value: object) -> None:
    with pytest.raises(ConfigError, match="num_rx must be an integer >= 1"):
        check_count(value, "num_rx")


def test_check_complex_matrices() -> None:
    check_complex_matrices(torch.zeros(2, 3, 4, dtype=C64), "h", "[..., K, M]")
    with pytest.raises(TypeError, match="h must be a torch.Tensor"):
        check_complex_matrices([[1j]], "h", "[..., K, M]")
    with pytest.raises(ShapeError, match=r"h must have shape \[\.\.\., K, M\]"):
        check_complex_matrices(torch.zeros(3, dtype=C64), "h", "[..., K, M]")
    with pytest.raises(ShapeError, match="complex"):
        check_complex_matrices(torch.zeros(2, 2), "h", "[..., K, M]")
    with pytest.raises(ShapeError, match="non-empty"):
        check_complex_matrices(torch.zeros(2, 0, dtype=C64), "h", "[..., K, M]")
    bad = torch.zeros(2, 2, dtype=C64)
    bad[0, 1] = complex(float("nan"), 0.0)
    with pytest.raises(ValueRangeError, match="h contains NaN"):
        check_complex_matrices(bad, "h", "[..., K, M]")


def test_as_real_and_as_per_instance() -> None:
    like32 = torch.zeros(4, 2, dtype=C64)
    assert as_real(0.5, like32, "x").dtype == torch.float32
    assert as_real(torch.tensor(0.5, dtype=torch.float64), like32, "x").dtype == torch.float64
    assert as_real(torch.tensor([1, 2]), like32.real, "x").dtype == torch.float32
    with pytest.raises(ValueRangeError, match="p must be real"):
        as_real(torch.tensor([1j]), like32, "p")
    assert as_per_instance(2.0, like32, 1, "noise_var").shape == ()
    assert as_per_instance(torch.ones(4), like32, 1, "noise_var").shape == (4,)
    with pytest.raises(ShapeError, match="noise_var must be a scalar or have the batch shape"):
        as_per_instance(torch.ones(4, 2), like32, 1, "noise_var")


def test_as_batch_param() -> None:
    h = torch.zeros(3, 2, 4, dtype=torch.complex128)
    t = as_batch_param(2.0, h, "power")
    assert t.dtype == torch.float64 and t.shape == ()
    assert as_batch_param(torch.ones(3), h, "power").shape == (3,)
    assert float(as_batch_param(0.0, h, "reg", allow_zero=True)) == 0.0
    with pytest.raises(ValueRangeError, match="power must be positive"):
        as_batch_param(0.0, h, "power")
    with pytest.raises(ShapeError, match=r"power must be a scalar or a tensor broadcasting to "
                                         r"the batch shape \(3,\)"):
        as_batch_param(torch.ones(2), h, "power")
    with pytest.raises(ShapeError, match="batch shape"):
        as_batch_param(torch.ones(3, 1), h, "power")  # would broadcast the batch to [3, 3]


def test_as_positive_per_item() -> None:
    like = torch.zeros(5, 2)  # [B, T]
    assert as_positive_per_item(3.0, like, "radar_snr").shape == ()
    per_instance = as_positive_per_item(torch.ones(5), like, "radar_snr")
    assert per_instance.shape == (5, 1)
    assert as_positive_per_item(torch.ones(5, 2), like, "radar_snr").shape == (5, 2)
    assert as_positive_per_item(torch.ones(5, dtype=torch.float64), like,
                                "radar_snr").dtype == torch.float64
    assert as_positive_per_item(2, like, "radar_snr").dtype == torch.float32
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueRangeError, match="radar_snr must be finite and positive"):
            as_positive_per_item(bad, like, "radar_snr")
    with pytest.raises(ValueRangeError, match="radar_snr must be real"):
        as_positive_per_item(torch.tensor(1j), like, "radar_snr")
    with pytest.raises(ShapeError, match="radar_snr of shape"):
        as_positive_per_item(torch.ones(3, 2), like, "radar_snr")
