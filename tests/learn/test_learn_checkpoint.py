"""Tests of isaclearn.learn.checkpoint: bit-exact round trip, corrupted and mismatched files."""

from __future__ import annotations

import json

import pytest
import torch

from isaclearn import __version__
from isaclearn.core import CheckpointError, IsacError
from isaclearn.learn import load_checkpoint, load_precoder, load_trained, save_checkpoint
from isaclearn.learn.checkpoint import config_differences, paths


def _tensors() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "a.weight": torch.randn(3, 4, generator=g),
        "a.bias": torch.randn(4, generator=g, dtype=torch.float64),
        "rng": torch.randint(0, 255, (16,), generator=g, dtype=torch.uint8),
        "step": torch.tensor(7.0),
        "tiny": torch.tensor([1e-40, -0.0, float("inf")]),
    }


CFG = {"net": {"hidden": [8, 8], "kind": "entrywise"}, "rho": 0.5}


def test_round_trip_is_bit_exact(tmp_path) -> None:
    t = _tensors()
    save_checkpoint(tmp_path / "ck", t, kind="training_state", config=CFG,
                    metrics={"loss": 0.25}, state={"epoch": 3, "history": [{"x": 1.5}]})
    ck = load_checkpoint(tmp_path / "ck", expected_config=CFG, expected_kind="training_state")
    assert set(ck.tensors) == set(t)
    for k, v in t.items():
        assert ck.tensors[k].dtype == v.dtype
        assert ck.tensors[k].shape == v.shape
        got, want = ck.tensors[k].reshape(-1), v.reshape(-1)
        assert torch.equal(got.view(torch.uint8), want.view(torch.uint8))
    assert ck.metrics == {"loss": 0.25} and ck.state["history"] == [{"x": 1.5}]
    assert ck.version == __version__ and ck.kind == "training_state"
    # either file's path works as the stem
    t_path, j_path = paths(tmp_path / "ck")
    assert load_checkpoint(t_path).config == CFG
    assert load_checkpoint(j_path).config == CFG
    sidecar = json.loads(j_path.read_text())
    assert sidecar["isaclearn_version"] == __version__ and "sha256" in sidecar


def test_flipped_byte_is_refused(tmp_path) -> None:
    save_checkpoint(tmp_path / "ck", _tensors(), kind="precoder", config=CFG)
    t_path, _ = paths(tmp_path / "ck")
    data = bytearray(t_path.read_bytes())
    data[-3] ^= 0xFF  # inside the tensor payload: safetensors alone would not notice
    t_path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupted"):
        load_checkpoint(tmp_path / "ck")


def test_truncated_or_garbage_files_are_refused(tmp_path) -> None:
    save_checkpoint(tmp_path / "ck", _tensors(), kind="precoder", config=CFG)
    t_path, j_path = paths(tmp_path / "ck")
    t_path.write_bytes(t_path.read_bytes()[:40])
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "ck")
    # a truncated file whose hash was "fixed" still fails in the safetensors parser
    meta = json.loads(j_path.read_text())
    import hashlib

    meta["sha256"] = hashlib.sha256(t_path.read_bytes()).hexdigest()
    j_path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(tmp_path / "ck")
    j_path.write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(tmp_path / "ck")
    j_path.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(CheckpointError, match="not an isaclearn checkpoint"):
        load_checkpoint(tmp_path / "ck")


def test_missing_files(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nothing")
    save_checkpoint(tmp_path / "ck", _tensors(), kind="precoder", config=CFG)
    paths(tmp_path / "ck")[1].unlink()
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "ck")


def test_mismatched_config_and_kind_are_named(tmp_path) -> None:
    save_checkpoint(tmp_path / "ck", _tensors(), kind="precoder", config=CFG)
    other = {"net": {"hidden": [8, 16], "kind": "entrywise"}, "rho": 0.5}
    with pytest.raises(CheckpointError, match=r"net\.hidden"):
        load_checkpoint(tmp_path / "ck", expected_config=other)
    with pytest.raises(CheckpointError, match="training_state"):
        load_checkpoint(tmp_path / "ck", expected_kind="training_state")
    assert issubclass(CheckpointError, IsacError)


def test_config_differences() -> None:
    a = {"x": 1, "y": {"z": [1, 2]}, "only_a": 0}
    b = {"x": 1, "y": {"z": [1, 3]}, "only_b": 0}
    diffs = config_differences(a, b)
    assert len(diffs) == 3
    assert any(d.startswith("y.z") for d in diffs)
    assert config_differences(a, a) == []


def test_precoder_loaders_refuse_foreign_checkpoints(tmp_path) -> None:
    save_checkpoint(tmp_path / "ck", _tensors(), kind="results", config=CFG)
    with pytest.raises(CheckpointError, match="not a precoder"):
        load_trained(tmp_path / "ck")
    save_checkpoint(tmp_path / "bad", _tensors(), kind="precoder",
                    config={"net": {"kind": "entrywise", "unknown_key": 1}})
    with pytest.raises(CheckpointError, match="invalid network config"):
        load_precoder(tmp_path / "bad")
    save_checkpoint(tmp_path / "shape", _tensors(), kind="precoder",
                    config={"net": {"kind": "entrywise", "num_antennas": 2, "num_users": 1,
                                    "num_targets": 1, "hidden": [3]}})
    with pytest.raises(CheckpointError, match="does not fit"):
        load_precoder(tmp_path / "shape")


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_both_files_get_the_umask_default_mode(tmp_path, umask: int) -> None:
    """The tensor file is not left at safetensors' 0600 beside a 0644 sidecar: both get the
    mode a new file gets under the process umask."""
    import os
    import stat

    old = os.umask(umask)
    try:
        t_path = save_checkpoint(tmp_path / "ck", _tensors(), kind="test", config={})
    finally:
        os.umask(old)
    want = 0o666 & ~umask
    _, j_path = paths(tmp_path / "ck")
    assert stat.S_IMODE(t_path.stat().st_mode) == want
    assert stat.S_IMODE(j_path.stat().st_mode) == want
