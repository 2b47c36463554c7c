"""ONNX export of an entry-wise precoder network and its latency under onnxruntime.

Needs the ``onnx`` extra (``pip install 'isaclearn[onnx]'``: onnx, onnxscript, onnxruntime);
the packages are imported only when these functions are called, and a missing one raises
:class:`~isaclearn.core.errors.ConfigError` naming the extra.

The exported graph is real-valued from end to end (ONNX has no complex tensors): input the
feature vector ``u`` ``[B, 2MK + T (+1)]`` of :func:`~isaclearn.learn.paper_features`, output
``[B, 2, M, K]`` holding the real and imaginary parts of the precoder scaled to the power budget
(eq. 21), i.e. features → network → power normalization, the whole inference path. The batch
dimension is dynamic. Only :class:`~isaclearn.learn.EntrywisePrecoderNet` is exported: the
structured network's complex linear solve has no ONNX equivalent.
"""

from __future__ import annotations

import importlib
import logging
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from isaclearn.core.errors import ConfigError
from isaclearn.learn.precoder_nets import EntrywisePrecoderNet, PrecoderNet


def _require(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"ONNX export/timing needs the package {module!r}: pip install 'isaclearn[onnx]'"
        ) from None


class RealPrecoderGraph(nn.Module):
    """The real-valued inference path of an entry-wise network (what is exported)."""

    def __init__(self, net: EntrywisePrecoderNet, power: float) -> None:
        super().__init__()
        self.mlp = net.mlp
        self.m = net.config.num_antennas
        self.k = net.config.num_users
        self.power = float(power)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        z = self.mlp(u)
        norm = z.square().sum(dim=-1, keepdim=True)
        z = z * torch.sqrt(self.power / norm)
        return z.reshape(-1, 2, self.m, self.k)


def export_onnx(net: PrecoderNet, path: str | Path, *, power: float = 1.0) -> Path:
    """Write ``net``'s inference path (features → network → eq. 21) as an ONNX file.

    Parameters
    ----------
    net : PrecoderNet
        An :class:`~isaclearn.learn.EntrywisePrecoderNet` (e.g. a compressed one).
    path : str or Path
        Output ``.onnx`` file.
    power : float
        Power budget baked into the graph, watts.

    Raises
    ------
    ConfigError
        The network is not entry-wise, or the ``onnx`` extra is missing.
    """
    if not isinstance(net, EntrywisePrecoderNet):
        raise ConfigError("only entry-wise networks can be exported to ONNX (the structured "
                          "network needs a complex linear solve)")
    _require("onnx")
    _require("onnxscript")
    graph = RealPrecoderGraph(net, power).eval()
    first = graph.mlp[0]
    assert isinstance(first, nn.Linear)
    n_in = first.in_features
    example = torch.zeros(2, n_in, dtype=first.weight.dtype)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    quiet = ["torch.onnx", "torch.export", "torch._dynamo", "onnxscript"]
    levels = {name: logging.getLogger(name).level for name in quiet}
    try:
        for name in quiet:
            logging.getLogger(name).setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph, (example,), str(path), dynamo=True, verbose=False,
                input_names=["u"], output_names=["w"],
                dynamic_shapes=({0: torch.export.Dim("batch")},),
            )
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    return path


def onnx_predict(path: str | Path, u: torch.Tensor, *, threads: int = 1) -> torch.Tensor:
    """Run an exported graph on features ``u`` ``[B, F]``; returns ``[B, 2, M, K]``."""
    ort = _require("onnxruntime")
    session = _session(ort, path, threads)
    out = session.run(None, {session.get_inputs()[0].name: u.detach().cpu().numpy()})[0]
    return torch.from_numpy(out)


def _session(ort: Any, path: str | Path, threads: int) -> Any:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def onnx_latency(
    path: str | Path,
    *,
    batch_size: int = 1000,
    repeat: int = 20,
    threads: int = 1,
    seed: int = 0,
) -> dict[str, float]:
    """Latency of an exported graph under onnxruntime (CPU execution provider).

    Returns
    -------
    dict
        ``batch_size``, ``best_s`` and ``median_s`` per batch, ``per_instance_us`` (median /
        batch size, microseconds), ``threads``.
    """
    ort = _require("onnxruntime")
    session = _session(ort, path, threads)
    inp = session.get_inputs()[0]
    n_in = int(inp.shape[1])
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(batch_size, n_in, generator=gen).numpy()
    feed = {inp.name: u}
    session.run(None, feed)  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return {
        "batch_size": float(batch_size),
        "best_s": min(times),
        "median_s": med,
        "per_instance_us": 1e6 * med / batch_size,
        "threads": float(threads),
    }
