"""Checkpoints: safetensors weights plus a JSON sidecar, loaded without unpickling.

A checkpoint ``<stem>`` is two files:

* ``<stem>.safetensors`` — named tensors only (model weights, optimizer moments, RNG states);
* ``<stem>.json`` — the sidecar: format tag, package version, ``kind``, the configuration the
  tensors belong to, metrics, any further JSON state (``state``) and the SHA-256 of the tensor
  file.

Loading checks, in order: both files exist, the sidecar is valid JSON of this format, the tensor
file's SHA-256 matches the sidecar (a truncated or altered file is refused before it is parsed),
safetensors can parse it, and — when the caller passes ``expected_config`` — the stored
configuration equals it (the differing keys are named). Every failure raises
:class:`~isaclearn.core.errors.CheckpointError` with the path and the reason.

Writes go to temporary files that are renamed into place, tensors first and sidecar last. A
save interrupted between the two renames leaves a tensor file that no longer matches the sidecar;
the hash check then refuses it instead of loading mismatched weights.

Every trained network is stored in this one format: :func:`save_model` writes a network's
weights as a checkpoint of its ``kind`` (``"precoder"``, ``"uplink_net"``, ...) with the
configuration that rebuilds it, and :func:`load_model` rebuilds and fills it from either that
checkpoint or the finished ``"training_state"`` of :func:`isaclearn.learn.loop.fit` (whose best
weights it takes).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from isaclearn import __version__
from isaclearn.core.errors import CheckpointError, ConfigError

FORMAT = "isaclearn-checkpoint/1"


@dataclass
class Checkpoint:
    """A loaded checkpoint.

    Attributes
    ----------
    tensors : dict of str to torch.Tensor
        The stored tensors (on CPU).
    kind : str
        What the checkpoint holds (``"precoder"``, ``"training_state"``).
    config : dict
        Configuration the tensors belong to.
    metrics : dict
        Metrics stored with it.
    state : dict
        Further JSON state (training progress, histories, scheduler state).
    version : str
        isaclearn version that wrote it.
    """

    tensors: dict[str, torch.Tensor]
    kind: str
    config: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    version: str = ""


def paths(stem: str | Path) -> tuple[Path, Path]:
    """``(<stem>.safetensors, <stem>.json)`` for a stem given with or without a suffix."""
    p = Path(stem)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")


def exists(stem: str | Path) -> bool:
    """Whether both files of the checkpoint ``stem`` exist."""
    t, j = paths(stem)
    return t.is_file() and j.is_file()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _jsonable(x: Any) -> Any:
    """Round-trip check: the sidecar must hold plain JSON values."""
    try:
        return json.loads(json.dumps(x))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint metadata is not JSON-serializable: {exc}") from None


def save_checkpoint(
    stem: str | Path,
    tensors: dict[str, torch.Tensor],
    *,
    kind: str,
    config: dict[str, Any],
    metrics: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
) -> Path:
    """Write ``<stem>.safetensors`` and ``<stem>.json``; returns the tensor file's path.

    Tensors are stored contiguous, detached and on CPU; their dtypes are kept exactly (a round
    trip is bit-exact).
    """
    from safetensors.torch import save_file

    t_path, j_path = paths(stem)
    t_path.parent.mkdir(parents=True, exist_ok=True)
    clean = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    meta = {
        "format": FORMAT,
        "isaclearn_version": __version__,
        "kind": kind,
        "config": _jsonable(config),
        "metrics": _jsonable(metrics or {}),
        "state": _jsonable(state or {}),
    }
    tmp_t = t_path.with_name(t_path.name + ".tmp")
    save_file(clean, str(tmp_t))
    meta["sha256"] = _sha256(tmp_t)
    tmp_j = j_path.with_name(j_path.name + ".tmp")
    tmp_j.write_text(json.dumps(meta, indent=2, sort_keys=True))
    # safetensors creates its file with mode 0600; give it the sidecar's mode (the default of
    # the process umask for a new file), so that both files are shared alike
    os.chmod(tmp_t, stat.S_IMODE(os.stat(tmp_j).st_mode))
    os.replace(tmp_t, t_path)
    os.replace(tmp_j, j_path)
    return t_path


def weights_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of a set of tensors: names, dtypes, shapes and bytes, in sorted name order.

    Identifies a network's weights independently of the file that holds them (a training-state
    checkpoint is rewritten with other entries around the same weights). Zero-dimensional
    tensors (batch norm's ``num_batches_tracked``) are hashed like one-element ones."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def config_differences(stored: Any, expected: Any, prefix: str = "") -> list[str]:
    """Keys (dotted paths) where two JSON-like configs differ, with both values."""
    out: list[str] = []
    if isinstance(stored, dict) and isinstance(expected, dict):
        for key in sorted(set(stored) | set(expected)):
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in stored:
                out.append(f"{name}: missing in checkpoint, expected {expected[key]!r}")
            elif key not in expected:
                out.append(f"{name}: {stored[key]!r} in checkpoint, not expected")
            else:
                out += config_differences(stored[key], expected[key], name)
        return out
    if stored != expected:
        out.append(f"{prefix or '<root>'}: checkpoint has {stored!r}, expected {expected!r}")
    return out


def load_checkpoint(
    stem: str | Path,
    *,
    expected_config: dict[str, Any] | None = None,
    expected_kind: str | None = None,
) -> Checkpoint:
    """Load and verify a checkpoint written by :func:`save_checkpoint`.

    Parameters
    ----------
    stem : str or Path
        Path without suffix (or either file's path).
    expected_config : dict, optional
        Refuse the checkpoint unless its stored configuration equals this one.
    expected_kind : str, optional
        Refuse the checkpoint unless it holds this kind.

    Raises
    ------
    CheckpointError
        Missing file, unreadable or foreign sidecar, hash mismatch (corrupted or altered tensor
        file), unparsable tensor file, wrong kind or configuration mismatch.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    t_path, j_path = paths(stem)
    for p in (t_path, j_path):
        if not p.is_file():
            raise CheckpointError(f"checkpoint file {p} does not exist")
    try:
        meta = json.loads(j_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"checkpoint sidecar {j_path} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{j_path} is not an isaclearn checkpoint sidecar ({FORMAT})")
    for key in ("kind", "config", "sha256"):
        if key not in meta:
            raise CheckpointError(f"checkpoint sidecar {j_path} lacks the entry {key!r}")
    digest = _sha256(t_path)
    if digest != meta["sha256"]:
        raise CheckpointError(
            f"checkpoint {t_path} is corrupted or was modified: its SHA-256 {digest[:12]}… does "
            f"not match the sidecar's {str(meta['sha256'])[:12]}…"
        )
    try:
        tensors = load_file(str(t_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read checkpoint tensors {t_path}: {exc}") from None
    if expected_kind is not None and meta["kind"] != expected_kind:
        raise CheckpointError(
            f"checkpoint {t_path} holds a {meta['kind']!r}, expected a {expected_kind!r}"
        )
    if expected_config is not None:
        diffs = config_differences(meta["config"], _jsonable(expected_config))
        if diffs:
            shown = "; ".join(diffs[:6]) + ("; …" if len(diffs) > 6 else "")
            raise CheckpointError(
                f"checkpoint {t_path} was written for a different configuration: {shown}"
            )
    return Checkpoint(
        tensors=tensors,
        kind=str(meta["kind"]),
        config=meta["config"],
        metrics=meta.get("metrics", {}),
        state=meta.get("state", {}),
        version=str(meta.get("isaclearn_version", "")),
    )


def prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """``{prefix + "." + name: tensor}``."""
    return {f"{prefix}.{k}": v for k, v in tensors.items()}


def unprefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors whose names start with ``prefix + "."``, with the prefix removed."""
    p = prefix + "."
    return {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}


def model_weights(ck: Checkpoint, stem: str | Path, *, kind: str,
                  description: str | None = None) -> dict[str, torch.Tensor]:
    """The trained weights held by a loaded checkpoint.

    A checkpoint of ``kind`` gives its tensors; a *finished* ``"training_state"`` (written by
    :func:`isaclearn.learn.loop.fit`) gives its best weights (``best.*``).

    Raises
    ------
    CheckpointError
        An unfinished training state, or another kind of checkpoint (named as ``description``,
        default ``kind``).
    """
    if ck.kind == kind:
        return ck.tensors
    if ck.kind == "training_state":
        if not ck.state.get("progress", {}).get("finished", False):
            raise CheckpointError(f"training checkpoint {stem} is not finished; resume it first")
        return unprefixed(ck.tensors, "best")
    raise CheckpointError(f"checkpoint {stem} holds a {ck.kind!r}, not a "
                          f"{description or repr(kind)}")


def load_weights(model: nn.Module, tensors: dict[str, torch.Tensor], stem: str | Path) -> None:
    """``model.load_state_dict(tensors, strict=True)``; a mismatch raises
    :class:`CheckpointError` naming ``stem``."""
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {stem} does not fit its network: {exc}") from None


def save_model(stem: str | Path, model: nn.Module, *, kind: str, config: dict[str, Any],
               metrics: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s weights (``state_dict``) as a checkpoint of ``kind``; ``config`` must
    let :func:`load_model`'s ``build`` rebuild the network. Returns the tensor file's path."""
    return save_checkpoint(stem, dict(model.state_dict()), kind=kind, config=config,
                           metrics=metrics or {})


def load_model(
    stem: str | Path,
    build: Callable[[dict[str, Any]], nn.Module],
    *,
    kind: str,
    description: str | None = None,
) -> tuple[nn.Module, Checkpoint]:
    """Rebuild a network stored by :func:`save_model` (or a finished training state).

    Parameters
    ----------
    stem : str or Path
        Checkpoint stem (or either file's path).
    build : callable
        ``build(config) -> nn.Module`` from the stored configuration; a ``KeyError``,
        ``TypeError``, ``ValueError`` or ``ConfigError`` it raises becomes a
        :class:`CheckpointError`.
    kind : str
        Kind of a model checkpoint (a finished ``"training_state"`` is accepted too).
    description : str, optional
        Name of the kind in error messages.

    Returns
    -------
    model : torch.nn.Module
        In eval mode.
    checkpoint : Checkpoint

    Raises
    ------
    CheckpointError
        Missing, corrupted or foreign files, an invalid configuration, weights that do not fit.
    """
    ck = load_checkpoint(stem)
    tensors = model_weights(ck, stem, kind=kind, description=description)
    try:
        model = build(ck.config)
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise CheckpointError(f"checkpoint {stem} has an invalid configuration: {exc}") from None
    load_weights(model, tensors, stem)
    model.eval()
    return model, ck
