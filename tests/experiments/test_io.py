"""Reading a user's design file: every accepted layout and every rejected input."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.io
import torch

from isaclearn.core.errors import InputFileError, ShapeError, ValueRangeError
from isaclearn.experiments.io import load_design_file

B, K, M, T = 3, 4, 5, 2


def good_arrays(b: int = B, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    h = (rng.standard_normal((b, K, M)) + 1j * rng.standard_normal((b, K, M))) / math.sqrt(2)
    w = rng.standard_normal((b, M, K)) + 1j * rng.standard_normal((b, M, K))
    w /= np.linalg.norm(w, axis=(1, 2), keepdims=True)
    return {
        "H": h,
        "W": w,
        "theta": np.deg2rad([-10.0, 25.0]),
        "noise_var": 0.01,
        "radar_snr": 100.0,
        "num_rx": 10,
        "num_symbols": 1,
    }


def write(tmp_path: Path, data: dict[str, Any], suffix: str = ".npz") -> Path:
    path = tmp_path / f"design{suffix}"
    if suffix == ".npz":
        np.savez(path, **data)
    else:
        scipy.io.savemat(path, data)
    return path


def test_npz_round_trip(tmp_path: Path) -> None:
    data = good_arrays()
    problem, w = load_design_file(write(tmp_path, data))
    assert (problem.batch_size, problem.num_users, problem.num_antennas) == (B, K, M)
    assert problem.num_targets == T
    assert w.dtype == torch.complex128 and problem.h.dtype == torch.complex128
    assert problem.theta.dtype == torch.float64
    np.testing.assert_allclose(problem.h.numpy(), data["H"])
    np.testing.assert_allclose(w.numpy(), data["W"])
    np.testing.assert_allclose(problem.theta.numpy(), np.tile(data["theta"], (B, 1)))
    assert problem.noise_var == 0.01 and problem.radar_snr == 100.0
    assert problem.num_rx == 10 and problem.num_symbols == 1


def test_mat_round_trip_with_matlab_shapes(tmp_path: Path) -> None:
    data = good_arrays()
    problem, w = load_design_file(write(tmp_path, data, ".mat"))
    np.testing.assert_allclose(problem.h.numpy(), data["H"])
    np.testing.assert_allclose(w.numpy(), data["W"])
    # savemat stores theta as a 1 x T row and scalars as 1 x 1 matrices
    np.testing.assert_allclose(problem.theta[0].numpy(), data["theta"])
    assert problem.num_rx == 10


def test_single_instance_and_column_theta(tmp_path: Path) -> None:
    data = good_arrays(b=1)
    data["H"] = data["H"][0]
    data["W"] = data["W"][0]
    data["theta"] = data["theta"][:, None]  # MATLAB column vector
    problem, w = load_design_file(write(tmp_path, data, ".mat"))
    assert problem.batch_size == 1 and w.shape == (1, M, K)
    assert problem.num_targets == T


def test_per_instance_theta_and_defaults(tmp_path: Path) -> None:
    data = good_arrays()
    data["theta"] = np.deg2rad(np.array([[-10.0, 25.0], [0.0, 30.0], [5.0, -40.0]]))
    del data["num_symbols"]
    data["noise_var"] = np.array([0.01])  # 1-element array
    problem, _ = load_design_file(write(tmp_path, data))
    np.testing.assert_allclose(problem.theta.numpy(), data["theta"])
    assert problem.num_symbols == 1 and problem.power == 1.0


def test_real_channels_accepted_and_lowercase_keys(tmp_path: Path) -> None:
    data = good_arrays()
    data["h"] = data.pop("H").real
    problem, _ = load_design_file(write(tmp_path, data))
    assert problem.h.is_complex()


def _mutate(data: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    out = dict(data)
    if value is _DELETE:
        del out[key]
    else:
        out[key] = value
    return out


_DELETE = object()

BAD_CASES = [
    # (id, key, value, error type, words that must appear in the message)
    ("missing-H", "H", _DELETE, InputFileError, ["missing key", "H"]),
    ("missing-theta", "theta", _DELETE, InputFileError, ["missing key", "theta"]),
    ("missing-noise", "noise_var", _DELETE, InputFileError, ["missing key", "noise_var"]),
    ("H-1d", "H", np.ones(5, complex), ShapeError, ["H", "shape"]),
    ("W-swapped", "W", np.ones((B, K, M + 1), complex), ShapeError, ["W", "shape"]),
    ("W-batch", "W", np.ones((B + 1, M, K), complex), ShapeError, ["W", "B = 4", "B = 3"]),
    ("theta-batch", "theta", np.zeros((B + 2, T)), ShapeError, ["theta", "B = 3"]),
    ("noise-vector", "noise_var", np.array([0.1, 0.2]), ShapeError, ["noise_var", "scalar"]),
    ("H-nan", "H", np.full((B, K, M), np.nan + 0j), ValueRangeError, ["H", "NaN or Inf"]),
    ("W-inf", "W", np.full((B, M, K), np.inf), ValueRangeError, ["W", "NaN or Inf"]),
    ("theta-nan", "theta", np.array([0.1, np.nan]), ValueRangeError, ["theta", "NaN"]),
    ("noise-inf", "noise_var", np.inf, ValueRangeError, ["noise_var", "NaN or Inf"]),
    ("noise-negative", "noise_var", -0.1, ValueRangeError, ["noise_var", "positive"]),
    ("radar-zero", "radar_snr", 0.0, ValueRangeError, ["radar_snr", "positive"]),
    ("power-negative", "power", -1.0, ValueRangeError, ["power", "positive"]),
    ("num_rx-fraction", "num_rx", 2.5, ValueRangeError, ["num_rx", "integer"]),
    ("num_rx-zero", "num_rx", 0, ValueRangeError, ["num_rx", ">= 1"]),
    ("num_symbols-negative", "num_symbols", -3, ValueRangeError, ["num_symbols", ">= 1"]),
    ("H-text", "H", np.array("not a matrix"), InputFileError, ["H", "numeric"]),
    ("noise-text", "noise_var", "0.1", InputFileError, ["noise_var", "numeric"]),
    ("W-object", "W", np.array([np.ones(2), "x"], dtype=object), InputFileError,
     ["W", "numeric"]),
    ("num_rx-bool", "num_rx", np.array(True), InputFileError, ["num_rx", "numeric"]),
    ("theta-complex", "theta", np.array([0.1 + 0.2j, 0.3]), ValueRangeError,
     ["theta", "real"]),
    ("theta-degrees", "theta", np.array([-10.0, 25.0]), ValueRangeError,
     ["theta", "radians"]),
]


@pytest.mark.parametrize(("key", "value", "err", "words"),
                         [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_bad_npz_content(tmp_path: Path, key: str, value: Any, err: type[Exception],
                         words: list[str]) -> None:
    path = write(tmp_path, _mutate(good_arrays(), key, value))
    with pytest.raises(err) as info:
        load_design_file(path)
    msg = str(info.value)
    assert "\n" not in msg
    for word in words:
        assert word in msg


def test_bad_mat_cell_array(tmp_path: Path) -> None:
    data = good_arrays()
    data["noise_var"] = np.array([1.0, "x"], dtype=object)  # becomes a MATLAB cell
    with pytest.raises(InputFileError, match="noise_var must be numeric"):
        load_design_file(write(tmp_path, data, ".mat"))


def test_bad_mat_text(tmp_path: Path) -> None:
    data = good_arrays()
    data["radar_snr"] = "high"
    with pytest.raises(InputFileError, match="radar_snr must be numeric, got text"):
        load_design_file(write(tmp_path, data, ".mat"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no such file"):
        load_design_file(tmp_path / "absent.npz")


@pytest.mark.parametrize("suffix", [".npz", ".mat"])
def test_corrupt_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"junk{suffix}"
    path.write_bytes(b"this is not a valid file at all" * 10)
    with pytest.raises(InputFileError, match="not a valid .npz" if suffix == ".npz"
                       else "cannot read"):
        load_design_file(path)


def test_mat_v73_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "v73.mat"
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5"
    path.write_bytes(header.ljust(512, b" ") + b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(InputFileError, match="v7.3"):
        load_design_file(path)


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "design.txt"
    path.write_text("H = 1")
    with pytest.raises(InputFileError, match="unsupported file type"):
        load_design_file(path)
