"""Reading a user's design file (``isaclearn evaluate FILE``).

File format (``.npz`` from NumPy, or MATLAB ``.mat`` up to v7; keys are case-sensitive, with a
case-insensitive fallback when the exact key is absent):

==============  ===================  ====================================================
key             shape                meaning
==============  ===================  ====================================================
``H``           ``[B, K, M]``        true channels, user ``k``'s channel is row ``H[b, k, :]``
                or ``[K, M]``        (then ``B = 1``); real or complex
``W``           ``[B, M, K]``        precoders, user ``k``'s beam is column ``W[b, :, k]``
                or ``[M, K]``        (optional for ``isaclearn evaluate --designer`` /
                                     ``--checkpoint``, which design their own)
``theta``       ``[T]`` or ``[B, T]``  target angles in radians, within ``[-π/2, π/2]``, real
``noise_var``   scalar               user noise variance ``σ²`` (W), > 0
``radar_snr``   scalar               radar SNR ``η`` (linear), > 0
``num_rx``      scalar               radar receive antennas ``N``, integer ≥ 1
``num_symbols`` scalar, optional     snapshots ``L``, integer ≥ 1 (default 1)
``power``       scalar, optional     power budget ``P_t`` (W), > 0 (default 1; not used in scoring)
==============  ===================  ====================================================

Scalars may be 0-d arrays, 1-element arrays or MATLAB 1×1 matrices. A MATLAB row or column
vector is accepted for ``theta`` ``[T]``. Values are evaluated in double precision
(``complex128`` / ``float64``). MATLAB v7.3 files (HDF5) are not read: save with ``-v7``.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from isaclearn.channels.downlink import DownlinkProblem
from isaclearn.core.errors import InputFileError, IsacError, ShapeError, ValueRangeError

REQUIRED_KEYS = ("H", "W", "theta", "noise_var", "radar_snr", "num_rx")
OPTIONAL_KEYS = {"num_symbols": 1, "power": 1.0}


def _read_npz(path: Path) -> dict[str, Any]:
    try:
        with np.load(path, allow_pickle=False) as data:
            out: dict[str, Any] = {}
            for k in data.files:
                try:
                    out[k] = data[k]
                except ValueError:  # object arrays need pickle, which is refused
                    out[k] = _NonNumeric("an object array")
            return out
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InputFileError(f"{path}: cannot read as .npz ({_reason(exc)})") from None


def _read_mat(path: Path) -> dict[str, Any]:
    import scipy.io

    with open(path, "rb") as fh:
        head = fh.read(128)
    if head.startswith(b"MATLAB 7.3") or head.startswith(b"\x89HDF"):
        raise InputFileError(
            f"{path}: MATLAB v7.3 (HDF5) files are not supported; save it with "
            f"save(..., '-v7') or as .npz"
        )
    try:
        data = scipy.io.loadmat(path, squeeze_me=False, mat_dtype=False)
    except NotImplementedError:
        raise InputFileError(
            f"{path}: MATLAB v7.3 (HDF5) files are not supported; save it with "
            f"save(..., '-v7') or as .npz"
        ) from None
    except Exception as exc:  # scipy raises many types for a corrupt file
        raise InputFileError(f"{path}: cannot read as MATLAB .mat ({_reason(exc)})") from None
    return {k: v for k, v in data.items() if not k.startswith("__")}


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class _NonNumeric:
    def __init__(self, what: str) -> None:
        self.what = what


def read_arrays(path: Path | str) -> dict[str, Any]:
    """The named arrays stored in a ``.npz`` or ``.mat`` file.

    Raises
    ------
    InputFileError
        If the file is missing, unreadable, of another type, or a MATLAB v7.3 (HDF5) file.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if not path.is_file():
        raise InputFileError(f"{path}: not a file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            return _read_npz(path)
        if suffix == ".mat":
            return _read_mat(path)
    except PermissionError:
        raise InputFileError(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({_reason(exc)})") from None
    raise InputFileError(f"{path}: unsupported file type {suffix or '(none)'!r}; "
                         f"use .npz or .mat")


def _lookup(data: Mapping[str, Any], key: str) -> Any:
    if key in data:
        return data[key]
    hits = [k for k in data if k.lower() == key.lower()]
    if len(hits) == 1:
        return data[hits[0]]
    return None


def _numeric(value: Any, key: str, path: Path) -> np.ndarray:
    """``value`` as a numeric (real or complex) NumPy array, or InputFileError."""
    if isinstance(value, _NonNumeric):
        raise InputFileError(f"{path}: {key} must be numeric, got {value.what}")
    arr = np.asarray(value)
    kind = arr.dtype.kind
    if kind in ("U", "S"):
        raise InputFileError(f"{path}: {key} must be numeric, got text")
    if kind == "O":
        raise InputFileError(f"{path}: {key} must be numeric, got an object array "
                             f"(a MATLAB cell or mixed data)")
    if kind == "V":
        raise InputFileError(f"{path}: {key} must be numeric, got a structured array "
                             f"(a MATLAB struct)")
    if kind == "b":
        raise InputFileError(f"{path}: {key} must be numeric, got booleans")
    if kind not in ("i", "u", "f", "c"):
        raise InputFileError(f"{path}: {key} must be numeric, got dtype {arr.dtype}")
    if arr.size == 0:
        raise ShapeError(f"{path}: {key} is empty (shape {arr.shape})")
    if not np.isfinite(arr).all():
        raise ValueRangeError(f"{path}: {key} contains NaN or Inf")
    return arr


def _real(arr: np.ndarray, key: str, path: Path) -> np.ndarray:
    if np.iscomplexobj(arr):
        if np.any(arr.imag != 0):
            raise ValueRangeError(f"{path}: {key} must be real, got complex values")
        arr = arr.real
    return arr.astype(np.float64)


def _scalar(value: Any, key: str, path: Path) -> float:
    arr = _numeric(value, key, path)
    if arr.size != 1:
        raise ShapeError(f"{path}: {key} must be a scalar, got shape {arr.shape}")
    return float(_real(arr, key, path).reshape(()))


def _positive(value: Any, key: str, path: Path) -> float:
    v = _scalar(value, key, path)
    if v <= 0:
        raise ValueRangeError(f"{path}: {key} must be positive, got {v:g}")
    return v


def _count(value: Any, key: str, path: Path) -> int:
    v = _scalar(value, key, path)
    if v != math.floor(v):
        raise ValueRangeError(f"{path}: {key} must be an integer >= 1, got {v:g}")
    if v < 1:
        raise ValueRangeError(f"{path}: {key} must be an integer >= 1, got {int(v)}")
    return int(v)


def _matrix_batch(arr: np.ndarray, key: str, layout: str, path: Path) -> np.ndarray:
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ShapeError(f"{path}: {key} must have shape {layout} (or without B), got shape "
                         f"{arr.shape}")
    return arr.astype(np.complex128)


def _theta(arr: np.ndarray, batch: int, path: Path) -> np.ndarray:
    theta = _real(arr, "theta", path)
    if theta.ndim == 0:
        theta = theta.reshape(1)
    if theta.ndim == 2:
        rows, cols = theta.shape
        if rows == batch:
            pass
        elif rows == 1:
            theta = theta[0]
        elif cols == 1:  # a MATLAB column vector of T angles
            theta = theta[:, 0]
        else:
            raise ShapeError(f"{path}: theta must have shape [T] or [B, T] with B = {batch} "
                             f"(from H), got shape {theta.shape}")
    if theta.ndim not in (1, 2):
        raise ShapeError(f"{path}: theta must have shape [T] or [B, T], got shape "
                         f"{theta.shape}")
    limit = math.pi / 2 + 1e-9
    worst = float(np.abs(theta).max())
    if worst > limit:
        raise ValueRangeError(
            f"{path}: theta must be in radians within [-pi/2, pi/2], got |theta| up to "
            f"{worst:g} (degrees? convert with numpy.deg2rad)"
        )
    return theta


def load_design_file(path: Path | str) -> tuple[DownlinkProblem, torch.Tensor]:
    """The downlink ISAC problem and the user's precoder stored in ``path`` (``W`` required).

    See :func:`load_problem_file` for the parameters and errors.
    """
    problem, w = load_problem_file(path, require_w=True)
    assert w is not None
    return problem, w


def load_problem_file(
    path: Path | str, *, require_w: bool = True
) -> tuple[DownlinkProblem, torch.Tensor | None]:
    """The downlink ISAC problem and, when present, the user's precoder stored in ``path``.

    Parameters
    ----------
    path : path
        A ``.npz`` or ``.mat`` file with the keys of the table in this module's docstring.
    require_w : bool
        Whether a missing ``W`` is an error (else ``None`` is returned for it).

    Returns
    -------
    problem : DownlinkProblem
        ``B`` instances, channels ``complex128``, angles ``float64``.
    w : torch.Tensor or None
        Precoders ``[B, M, K]`` ``complex128``; ``None`` when absent and not required.

    Raises
    ------
    InputFileError
        Missing or unreadable file, missing key, non-numeric value.
    ShapeError
        Wrong shape, or ``B``, ``K``, ``M`` inconsistent between ``H``, ``W`` and ``theta``.
    ValueRangeError
        NaN or Inf; non-positive ``noise_var`` / ``radar_snr`` / ``power``; ``num_rx`` or
        ``num_symbols`` not an integer ≥ 1; complex ``theta``; angles outside ``[-π/2, π/2]``.
    """
    path = Path(path)
    data = read_arrays(path)
    missing = [k for k in REQUIRED_KEYS if _lookup(data, k) is None
               and (require_w or k != "W")]
    if missing:
        have = ", ".join(sorted(data)) or "none"
        raise InputFileError(f"{path}: missing key {', '.join(missing)} (keys in the file: "
                             f"{have})")

    h = _matrix_batch(_numeric(_lookup(data, "H"), "H", path), "H", "[B, K, M]", path)
    b, k, m = h.shape
    w: np.ndarray | None = None
    if _lookup(data, "W") is not None:
        w = _matrix_batch(_numeric(_lookup(data, "W"), "W", path), "W", "[B, M, K]", path)
        if w.shape[0] != b:
            raise ShapeError(f"{path}: W has B = {w.shape[0]} instance(s) but H has B = {b} "
                             f"(H {h.shape} = [B, K, M], W {w.shape} = [B, M, K])")
        if w.shape != (b, m, k):
            raise ShapeError(f"{path}: W has shape {w.shape} but H {h.shape} = [B, K, M] "
                             f"needs W of shape [B, M, K] = {(b, m, k)}")
    theta = _theta(_numeric(_lookup(data, "theta"), "theta", path), b, path)
    if theta.ndim == 2 and theta.shape[0] != b:
        raise ShapeError(f"{path}: theta has shape {theta.shape} but H has B = {b} instances")

    noise_var = _positive(_lookup(data, "noise_var"), "noise_var", path)
    radar_snr = _positive(_lookup(data, "radar_snr"), "radar_snr", path)
    num_rx = _count(_lookup(data, "num_rx"), "num_rx", path)
    extra: dict[str, Any] = {}
    for key, default in OPTIONAL_KEYS.items():
        raw = _lookup(data, key)
        if raw is None:
            extra[key] = default
        elif key == "power":
            extra[key] = _positive(raw, key, path)
        else:
            extra[key] = _count(raw, key, path)

    try:
        problem = DownlinkProblem(
            h=torch.from_numpy(np.ascontiguousarray(h)),
            theta=torch.from_numpy(np.ascontiguousarray(theta)),
            power=float(extra["power"]),
            noise_var=noise_var,
            radar_snr=radar_snr,
            num_rx=num_rx,
            num_symbols=int(extra["num_symbols"]),
        )
    except IsacError as exc:
        raise type(exc)(f"{path}: {exc}") from None
    return problem, (None if w is None else torch.from_numpy(np.ascontiguousarray(w)))
