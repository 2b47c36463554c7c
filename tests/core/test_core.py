"""Tests of isaclearn.core: dB helpers, power scaling, errors, seeding, dtype policy, checks."""

from __future__ import annotations

import inspect
import math
import random

import numpy as np
import pytest
import torch

import isaclearn.core as core
from isaclearn.core import (
    CheckpointError,
    ConfigError,
    Design,
    Designer,
    InputFileError,
    IsacError,
    ShapeError,
    SolverError,
    ValueRangeError,
    abs_sq,
    as_real_tensor,
    check_finite,
    check_last_dims,
    check_positive,
    complex_dtype,
    complex_normal,
    db_to_lin,
    eye_like,
    fro_norm_sq,
    herm,
    lin_to_db,
    make_generator,
    real_dtype,
    scale_to_power,
    seed_everything,
)

# --------------------------------------------------------------------------------------------
# dB helpers


@pytest.mark.parametrize(
    ("x_db", "lin"),
    [(0.0, 1.0), (10.0, 10.0), (20.0, 100.0), (-30.0, 1e-3), (3.0, 1.9952623149688795)],
)
def test_db_known_values(x_db: float, lin: float) -> None:
    assert db_to_lin(x_db) == pytest.approx(lin, rel=1e-12)
    assert lin_to_db(lin) == pytest.approx(x_db, abs=1e-12)


def test_db_round_trip_float_and_tensor() -> None:
    for x in (-57.3, -3.0, 0.0, 0.5, 13.0, 120.0):
        back = lin_to_db(db_to_lin(x))
        assert isinstance(back, float)
        assert back == pytest.approx(x, abs=1e-10)
    x = torch.linspace(-80.0, 80.0, 33, dtype=torch.float64)
    lin = db_to_lin(x)
    assert isinstance(lin, torch.Tensor) and lin.dtype == torch.float64
    torch.testing.assert_close(lin, torch.tensor([10.0 ** (v / 10.0) for v in x.tolist()],
                                                 dtype=torch.float64), rtol=1e-12, atol=0)
    back = lin_to_db(lin)
    assert isinstance(back, torch.Tensor)
    torch.testing.assert_close(back, x, rtol=0, atol=1e-10)
    x32 = x.float()
    assert db_to_lin(x32).dtype == torch.float32  # type: ignore[union-attr]


# --------------------------------------------------------------------------------------------
# linear algebra helpers


def test_scale_to_power_scalar_and_per_instance(cdtype: torch.dtype, device: str,
                                                gen: torch.Generator) -> None:
    w = complex_normal((4, 5, 3), generator=gen, dtype=cdtype, device=device)
    rtol = 1e-5 if cdtype == torch.complex64 else 1e-12
    out = scale_to_power(w, 2.5)
    assert out.dtype == cdtype and out.device.type == device and out.shape == w.shape
    norms = (out.abs() ** 2).sum(dim=(-2, -1))
    torch.testing.assert_close(norms, torch.full_like(norms, 2.5), rtol=rtol, atol=0)
    # Direction preserved: out = c w with c > 0 real, one c per instance.
    ratio = out / w
    torch.testing.assert_close(ratio.imag, torch.zeros_like(ratio.imag), rtol=0, atol=rtol * 10)
    assert bool((ratio.real > 0).all())
    # Per-instance powers [B].
    p = torch.tensor([0.5, 1.0, 2.0, 4.0], device=device)
    out = scale_to_power(w, p)
    norms = (out.abs() ** 2).sum(dim=(-2, -1))
    torch.testing.assert_close(norms, p.to(norms.dtype), rtol=rtol, atol=0)


def test_scale_to_power_real_float64_keeps_precision() -> None:
    w = torch.arange(1.0, 7.0, dtype=torch.float64).reshape(1, 3, 2)
    out = scale_to_power(w, 1.0 / 3.0)
    assert out.dtype == torch.float64
    assert abs((out**2).sum().item() - 1.0 / 3.0) < 1e-15


def test_scale_to_power_zero_matrix_stays_finite() -> None:
    w = torch.zeros(2, 3, 2, dtype=torch.complex128)
    out = scale_to_power(w, 1.0)
    assert bool(torch.isfinite(out.real).all()) and bool((out == 0).all())


def test_small_linalg_helpers(gen: torch.Generator, device: str) -> None:
    x = complex_normal((3, 4, 2), generator=gen, dtype=torch.complex128, device=device)
    xh = herm(x)
    assert xh.shape == (3, 2, 4)
    for b in range(3):
        for i in range(4):
            for j in range(2):
                assert complex(xh[b, j, i]) == complex(x[b, i, j]).conjugate()
    torch.testing.assert_close(fro_norm_sq(x), torch.linalg.matrix_norm(x) ** 2)
    torch.testing.assert_close(abs_sq(x), x.abs() ** 2)
    r = torch.randn(3, 4, generator=gen, dtype=torch.float64, device=device)
    torch.testing.assert_close(abs_sq(r), r * r)
    torch.testing.assert_close(fro_norm_sq(r[None]), (r * r).sum()[None])
    e = eye_like(x, 3)
    assert e.dtype == x.dtype and e.device == x.device
    torch.testing.assert_close(e, torch.eye(3, dtype=x.dtype, device=device))


# --------------------------------------------------------------------------------------------
# errors


def test_error_hierarchy() -> None:
    for cls in (ShapeError, ValueRangeError, ConfigError, InputFileError, CheckpointError,
                SolverError):
        assert issubclass(cls, IsacError)
    assert issubclass(IsacError, Exception)
    # Input errors are also ValueErrors, solver failures RuntimeErrors (catchable the usual way).
    for cls in (ShapeError, ValueRangeError, ConfigError):
        assert issubclass(cls, ValueError)
    assert issubclass(SolverError, RuntimeError)
    # Every exception class core exports derives from IsacError.
    exported = [obj for _, obj in inspect.getmembers(core, inspect.isclass)
                if issubclass(obj, BaseException)]
    assert len(exported) >= 7
    assert all(issubclass(cls, IsacError) for cls in exported)


# --------------------------------------------------------------------------------------------
# seeding


def test_make_generator_determinism(device: str) -> None:
    a = torch.rand(16, generator=make_generator(7, device), device=device)
    b = torch.rand(16, generator=make_generator(7, device), device=device)
    c = torch.rand(16, generator=make_generator(8, device), device=device)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert make_generator(7, device).device.type == device


def test_seed_everything() -> None:
    seed_everything(3)
    first = (random.random(), float(np.random.rand()), torch.rand(3))  # noqa: NPY002
    seed_everything(3)
    second = (random.random(), float(np.random.rand()), torch.rand(3))  # noqa: NPY002
    assert first[0] == second[0] and first[1] == second[1]
    assert torch.equal(first[2], second[2])


def test_complex_normal_statistics_and_determinism(cdtype: torch.dtype, device: str) -> None:
    n = 40_000
    x = complex_normal((n,), generator=make_generator(5, device), dtype=cdtype, device=device)
    y = complex_normal((n,), generator=make_generator(5, device), dtype=cdtype, device=device)
    assert x.dtype == cdtype and x.device.type == device
    assert torch.equal(x, y)
    xd = x.to(torch.complex128)
    # CN(0, 1): Re, Im ~ N(0, 1/2) independent; |x|^2 ~ Exp(1) (variance 1).
    z = 5.0
    assert abs(xd.real.mean().item()) < z * math.sqrt(0.5 / n)
    assert abs(xd.imag.mean().item()) < z * math.sqrt(0.5 / n)
    assert abs((xd.abs() ** 2).mean().item() - 1.0) < z / math.sqrt(n)
    assert abs((xd.real**2).mean().item() - 0.5) < z * math.sqrt(0.5 / n)  # var of Re^2 = 1/2
    assert abs((xd * xd).mean().abs().item()) < z / math.sqrt(n)  # circular: E[x^2] = 0


# --------------------------------------------------------------------------------------------
# dtype policy


def test_dtype_maps() -> None:
    assert real_dtype(torch.complex64) == torch.float32
    assert real_dtype(torch.complex128) == torch.float64
    assert real_dtype(torch.float64) == torch.float64
    assert complex_dtype(torch.float64) == torch.complex128
    assert complex_dtype(torch.float32) == torch.complex64
    assert complex_dtype(torch.complex128) == torch.complex128


def test_as_real_tensor() -> None:
    like64 = torch.zeros(2, dtype=torch.complex128)
    like32 = torch.zeros(2, dtype=torch.complex64)
    assert as_real_tensor(1, like=like64).dtype == torch.float64
    assert as_real_tensor(0.5, like=like32).dtype == torch.float32
    assert as_real_tensor(torch.tensor([1, 2]), like=like32).dtype == torch.float32
    # Never downcast silently: a float64 tensor stays float64.
    assert as_real_tensor(torch.tensor(1.0, dtype=torch.float64), like=like32).dtype == (
        torch.float64
    )
    with pytest.raises(TypeError):
        as_real_tensor(torch.tensor(1j), like=like32)


# --------------------------------------------------------------------------------------------
# checks


def test_checks_name_the_argument() -> None:
    x = torch.zeros(2, 3, 4)
    check_last_dims(x, (3, None), "x", "[..., 3, N]")
    with pytest.raises(ShapeError, match=r"foo must have shape \[\.\.\., 5, N\]"):
        check_last_dims(x, (5, None), "foo", "[..., 5, N]")
    with pytest.raises(ShapeError, match="foo"):
        check_last_dims(torch.zeros(3), (None, None), "foo", "[..., A, B]")
    check_finite(x, "x")
    with pytest.raises(ValueRangeError, match="bar contains NaN"):
        check_finite(torch.tensor([1.0, math.nan]), "bar")
    check_positive(1.0, "p")
    check_positive(0.0, "p", allow_zero=True)
    with pytest.raises(ValueRangeError, match="power must be positive"):
        check_positive(0.0, "power")
    with pytest.raises(ValueRangeError, match="power must be non-negative"):
        check_positive(torch.tensor([1.0, -1.0]), "power", allow_zero=True)
    with pytest.raises(ValueRangeError, match="p"):
        check_positive(math.inf, "p")
    with pytest.raises(ValueRangeError, match="real"):
        check_positive(torch.tensor(1j), "p")


# --------------------------------------------------------------------------------------------
# designer protocol


def test_designer_protocol() -> None:
    class Mrt:
        name = "mrt"

        def design(self, problem: torch.Tensor) -> Design:
            return Design(w=problem.conj().transpose(-2, -1))

    d = Mrt()
    assert isinstance(d, Designer)
    out = d.design(torch.ones(1, 2, 3, dtype=torch.complex64))
    assert out.w.shape == (1, 3, 2) and out.extras == {} and out.info == {}
    assert not isinstance(object(), Designer)
