"""Reading and writing a system's problems and designs (``isaclearn evaluate FILE``).

The layout of a file comes from the system's :class:`~isaclearn.systems.base.FileFormat`: named
arrays with shape letters (``H`` ``[B, K, M]``, ...) and kinds (complex, real, positive, count,
fraction, angle in radians); ``isaclearn list --system NAME`` prints it. Files are NumPy
``.npz`` or MATLAB ``.mat`` up to v7; keys are case-sensitive, with a case-insensitive fallback
when the exact key is absent. Scalars may be 0-d arrays, 1-element arrays or MATLAB 1×1
matrices; a MATLAB row or column vector is accepted for a one-letter field; a field whose first
letter is ``B`` may be given without it (one instance, or the same for every instance).

A two-letter field ``[B, X]`` that may be shared by every instance (``batch="broadcast"``, e.g.
the target angles ``theta`` ``[B, T]``) is read as

* ``[X]`` (1-D) or a ``1×X`` row: the same values for every instance;
* ``[B, X]``: per instance;
* an ``n×1`` column with ``n ≠ B``: ``n`` values shared by every instance (a MATLAB column
  vector);
* an ``n×1`` column with ``n = B > 1``: in an ``.npz`` file, whose arrays keep their exact
  shape, one value per instance (``X = 1``); in a ``.mat`` file, where every vector is a matrix
  and columns are the usual way to write one, it is ambiguous and refused with a message that
  says how to store either meaning (a ``1×X`` row for shared values; an ``.npz`` of shape
  ``(B, 1)`` for one value per instance).

Values
are read in double precision (``complex128`` / ``float64``). MATLAB v7.3 files (HDF5) are not
read: save with ``-v7``. Object arrays are refused without being unpickled.

Every problem is reported as an :class:`~isaclearn.core.errors.IsacError` whose one-line message
names the file, the key and what was expected.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from isaclearn.core.errors import (
    ConfigError,
    InputFileError,
    IsacError,
    ShapeError,
    ValueRangeError,
)
from isaclearn.systems.base import FileField, FileFormat, SystemSpec

MAX_COUNT = 1_000_000
"""Largest integer accepted for a count (antennas, snapshots): more is taken for a typo."""


_NPZ_HELP = "an .npz is the zip archive numpy.savez writes: numpy.savez(path, H=..., ...)"


def _read_npz(path: Path) -> dict[str, Any]:
    """The arrays of an ``.npz`` archive; never unpickles (object arrays are marked, not read).

    A file that is not a zip archive (text, a renamed ``.npy``, anything else) is reported as
    not a valid ``.npz``, not with NumPy's own message, which assumes a pickle and suggests
    ``allow_pickle``.
    """
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"\x93NUMPY"):
        raise InputFileError(f"{path}: not a valid .npz file: it is a single-array .npy file "
                             f"without names; {_NPZ_HELP}")
    if not zipfile.is_zipfile(path):
        raise InputFileError(f"{path}: not a valid .npz file (not a zip archive); {_NPZ_HELP}")
    try:
        with np.load(path, allow_pickle=False) as data:
            out: dict[str, Any] = {}
            for k in data.files:
                try:
                    value = data[k]
                except ValueError as exc:
                    if "allow_pickle" in str(exc):  # object arrays need pickle: refused
                        out[k] = _NonNumeric("an object array")
                        continue
                    raise InputFileError(f"{path}: array {k} is corrupt "
                                         f"({_reason(exc)})") from None
                out[k] = (value if isinstance(value, np.ndarray)
                          else _NonNumeric("a member that is not a NumPy .npy array"))
            return out
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        reason = _reason(exc)
        detail = "" if "pickle" in reason else f" ({reason})"
        raise InputFileError(f"{path}: not a valid .npz file{detail}; {_NPZ_HELP}") from None


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
    if v > MAX_COUNT:
        raise ValueRangeError(f"{path}: {key} must be an integer >= 1 and at most {MAX_COUNT}, "
                              f"got {v:g}")
    return int(v)


def _fraction(value: Any, key: str, path: Path) -> float:
    v = _scalar(value, key, path)
    if not 0.0 <= v <= 1.0:
        raise ValueRangeError(f"{path}: {key} must be in [0, 1], got {v:g}")
    return v


def _check_angles(arr: np.ndarray, key: str, path: Path) -> None:
    limit = math.pi / 2 + 1e-9
    worst = float(np.abs(arr).max())
    if worst > limit:
        raise ValueRangeError(
            f"{path}: {key} must be in radians within [-pi/2, pi/2], got |{key}| up to "
            f"{worst:g} (degrees? convert with numpy.deg2rad)"
        )


class _Dims:
    """Sizes of the shape letters seen so far, and which field fixed each."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size: dict[str, int] = {}
        self.source: dict[str, tuple[str, tuple[int, ...], str]] = {}

    def bind(self, f: FileField, shape: tuple[int, ...]) -> None:
        for letter, n in zip(f.dims, shape):
            if letter not in self.size:
                self.size[letter] = n
                self.source[letter] = (f.name, shape, f.layout)
                continue
            if self.size[letter] == n:
                continue
            src, src_shape, src_layout = self.source[letter]
            if letter == "B":
                raise ShapeError(
                    f"{self.path}: {f.name} has B = {n} instance(s) but {src} has B = "
                    f"{self.size[letter]} ({src} shape {src_shape} = {src_layout}, {f.name} "
                    f"shape {shape} = {f.layout})")
            want = tuple(self.size.get(d, s) for d, s in zip(f.dims, shape))
            raise ShapeError(
                f"{self.path}: {f.name} has shape {shape} but {src} {src_shape} = {src_layout} "
                f"needs {f.name} of shape {f.layout} = {want}")


def _array_field(f: FileField, raw: Any, path: Path, dims: _Dims) -> np.ndarray:
    """A validated array field, batch dimension added, bound to the shape letters."""
    arr = _numeric(raw, f.name, path)
    if f.kind != "complex":
        arr = _real(arr, f.name, path)
    n = len(f.dims)
    batched = f.dims[0] == "B"
    if n == 1 and arr.ndim == 2 and 1 in arr.shape:  # a MATLAB row or column vector
        arr = arr.reshape(-1)
    if batched and arr.ndim == n - 1 and f.batch == "optional":
        arr = arr[None]
    elif batched and n == 2 and arr.ndim == 2 and f.batch == "broadcast" and "B" in dims.size:
        rows, cols = arr.shape
        b = dims.size["B"]
        if rows != b:
            if rows == 1:
                arr = arr[0]
            elif cols == 1:  # a MATLAB column vector of the per-instance letter
                arr = arr[:, 0]
        elif cols == 1 and b > 1 and path.suffix.lower() == ".mat":
            raise ShapeError(_ambiguous_column(f, arr.shape, path))
    if batched and f.batch == "broadcast" and n == 2 and arr.ndim == 0:
        arr = arr.reshape(1)
    if batched and f.batch == "broadcast" and arr.ndim == n - 1:
        dims.bind(FileField(f.name, f.dims[1:], f.kind, f.doc), tuple(arr.shape))
        if "B" in dims.size:
            arr = np.broadcast_to(arr, (dims.size["B"], *arr.shape)).copy()
    else:
        if arr.ndim != n:
            alt = " (or without B)" if batched else ""
            if f.batch == "broadcast" and batched:
                alt = f" or [{', '.join(f.dims[1:])}]"
            raise ShapeError(f"{path}: {f.name} must have shape {f.layout}{alt}, got shape "
                             f"{arr.shape}")
        dims.bind(f, tuple(arr.shape))
    if f.kind == "positive" and not bool((arr > 0).all()):
        raise ValueRangeError(f"{path}: {f.name} must be positive, got {float(arr.min()):g}")
    if f.kind == "fraction" and not bool(((arr >= 0) & (arr <= 1)).all()):
        raise ValueRangeError(f"{path}: {f.name} must be in [0, 1]")
    if f.kind == "angle_rad":
        _check_angles(arr, f.name, path)
    return arr.astype(np.complex128 if f.kind == "complex" else np.float64)


def _ambiguous_column(f: FileField, shape: tuple[int, ...], path: Path) -> str:
    """The message for a MATLAB ``B×1`` column of a broadcast ``[B, X]`` field (B > 1)."""
    n, x = shape[0], f.dims[1]
    return (f"{path}: {f.name} of shape {shape} is ambiguous with B = {n} instances: a MATLAB "
            f"{n}x1 column is either {x} = {n} values shared by every instance or one value per "
            f"instance ({x} = 1); store shared values as a 1x{x} row vector ({f.name}(:).' in "
            f"MATLAB), and one value per instance as an array of shape ({n}, 1) in an .npz file "
            f"(NumPy keeps the shape exactly)")


def _scalar_field(f: FileField, raw: Any, path: Path) -> float | int:
    if f.kind == "positive":
        return _positive(raw, f.name, path)
    if f.kind == "count":
        return _count(raw, f.name, path)
    if f.kind == "fraction":
        return _fraction(raw, f.name, path)
    if f.kind == "complex":
        raise ConfigError(f"field {f.name}: a complex scalar is not supported")
    v = _scalar(raw, f.name, path)
    if f.kind == "angle_rad":
        _check_angles(np.asarray([v]), f.name, path)
    return v


def read_fields(
    path: Path, data: Mapping[str, Any], fields: tuple[FileField, ...], *,
    required: bool = True, dims: _Dims | None = None,
) -> dict[str, Any]:
    """The validated values of ``fields`` in ``data`` (absent optional fields get their
    default, or are left out when they have none).

    Raises
    ------
    InputFileError, ShapeError, ValueRangeError
        Missing key, non-numeric value, wrong shape, inconsistent sizes, value out of range.
    """
    dims = dims or _Dims(path)
    missing = [f.name for f in fields if f.required and required and _lookup(data, f.name) is None]
    if missing:
        have = ", ".join(sorted(data)) or "none"
        raise InputFileError(f"{path}: missing key {', '.join(missing)} (keys in the file: "
                             f"{have})")
    out: dict[str, Any] = {}
    # fields with the batch letter first, so that B is known to broadcast fields
    order = sorted(fields, key=lambda f: (f.batch == "broadcast", not f.dims))
    for f in order:
        raw = _lookup(data, f.name)
        if raw is None:
            if f.default is not None:
                out[f.name] = f.default
            continue
        out[f.name] = _array_field(f, raw, path, dims) if f.dims else _scalar_field(f, raw, path)
    return {f.name: out[f.name] for f in fields if f.name in out}


def load_problem_file(
    path: Path | str, system: SystemSpec, *, require_design: bool = True
) -> tuple[Any, Any | None]:
    """The problem and, when present, the design stored in ``path`` for ``system``.

    Parameters
    ----------
    path : path
        A ``.npz`` or ``.mat`` file laid out as the system's
        :class:`~isaclearn.systems.base.FileFormat` says.
    system : SystemSpec
        The system whose file format, problem and design classes apply.
    require_design : bool
        Whether missing design fields are an error (else ``None`` is returned for the design).

    Returns
    -------
    problem, design
        The system's problem (double precision) and design (or ``None``).

    Raises
    ------
    ConfigError
        The system reads no files.
    InputFileError, ShapeError, ValueRangeError
        See :func:`read_fields`; inconsistent values rejected by the problem class.
    """
    fmt = _format(system)
    path = Path(path)
    data = read_arrays(path)
    dims = _Dims(path)
    design_present = any(_lookup(data, f.name) is not None for f in fmt.design_fields
                         if f.required)
    # bind the leading field first, as the reader reports its shape in messages
    lead = fmt.problem_fields[:1]
    missing_design = require_design and [f.name for f in fmt.design_fields
                                          if f.required and _lookup(data, f.name) is None]
    missing = [f.name for f in fmt.problem_fields if f.required and _lookup(data, f.name) is None]
    if missing or missing_design:
        have = ", ".join(sorted(data)) or "none"
        names = [*missing, *(missing_design or [])]
        order = [f.name for f in (*fmt.problem_fields, *fmt.design_fields) if f.name in names]
        raise InputFileError(f"{path}: missing key {', '.join(order)} (keys in the file: "
                             f"{have})")
    arrays = read_fields(path, data, lead, dims=dims)
    design_arrays: dict[str, Any] | None = None
    if design_present or require_design:
        design_arrays = read_fields(path, data, fmt.design_fields, dims=dims)
    arrays.update(read_fields(path, data, fmt.problem_fields[1:], dims=dims))
    try:
        problem = fmt.problem_from_arrays(arrays)
        design = (None if design_arrays is None
                  else fmt.design_from_arrays(design_arrays, problem))
    except IsacError as exc:
        raise type(exc)(f"{path}: {exc}") from None
    return problem, design


def _format(system: SystemSpec) -> FileFormat:
    if system.file_format is None:
        raise ConfigError(f"system {system.name} does not read problem files")
    return system.file_format


def write_designs(path: Path | str, system: SystemSpec, designs: Mapping[str, Any]) -> Path:
    """Write ``designs`` (name -> design) to a ``.npz`` or MATLAB ``.mat`` file.

    Each design field ``F`` of design ``name`` is stored as ``F_<name>`` (the name with every
    character that is not a letter, digit or ``_`` replaced by ``_``), and the names in the
    array ``designs``; complex values as complex128. The file is written to a temporary name and
    renamed, so an interrupted write leaves no half file.

    Raises
    ------
    ConfigError
        Unsupported suffix, missing folder, or the folder cannot be written.
    """
    import os
    import re

    fmt = _format(system)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".npz", ".mat"):
        raise ConfigError(f"--out {path}: unsupported file type {suffix or '(none)'!r}; use "
                          f".npz or .mat")
    if not path.parent.is_dir():
        raise ConfigError(f"--out {path}: folder {path.parent} does not exist")
    out: dict[str, Any] = {}
    names = []
    for name, design in designs.items():
        safe = re.sub(r"\W", "_", name)
        names.append(name)
        for key, value in fmt.design_to_arrays(design).items():
            arr = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
            out[f"{key}_{safe}"] = np.asarray(arr)
    out["designs"] = np.array(names)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        if suffix == ".npz":
            with open(tmp, "wb") as fh:
                np.savez(fh, **out)
        else:
            import scipy.io

            scipy.io.savemat(tmp, out)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"--out {path}: cannot write ({exc.strerror or exc})") from None
    return path


def load_design_file(path: Path | str, system: str | None = None) -> tuple[Any, torch.Tensor]:
    """The problem and the design's main tensor ``w`` stored in ``path`` (the design required).

    ``system`` defaults to :data:`isaclearn.systems.DEFAULT_SYSTEM`; see
    :func:`load_problem_file` for the errors.
    """
    from isaclearn.systems import DEFAULT_SYSTEM
    from isaclearn.systems.base import get_system

    problem, design = load_problem_file(path, get_system(system or DEFAULT_SYSTEM))
    assert design is not None
    return problem, design.w
