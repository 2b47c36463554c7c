r"""Post-training compression of a precoder network (temiz_unsup section IV, Table 3).

* **Quantization** (eqs. 26–27): every weight tensor :math:`\mathbf s_i` (one per layer) is
  rounded to the grid of step :math:`f(Q,\mathbf s_i) = (\max\mathbf s_i - \min\mathbf s_i)/2^Q`,

  .. math:: \mathbf s_i^Q = \Big\lfloor \frac{\mathbf s_i}{f(Q,\mathbf s_i)}\Big\rceil
            f(Q,\mathbf s_i),

  rounding half to even (:func:`torch.round`). Notes: the grid is not offset, so up to
  :math:`2^Q + 1` levels occur (the paper's eq. 27 as written); weights with
  :math:`|s| < f/2` become exactly zero ("automatically pruned", as the paper remarks). Biases are
  quantized the same way, each bias vector with its own range (``include_bias``), since they are
  stored too.
* **Pruning**: global magnitude pruning after quantization — the fraction ``J`` of all weights
  (over every layer together) with the smallest magnitude is set to zero
  (:func:`torch.nn.utils.prune.global_unstructured` with ``L1Unstructured``; weights already
  zeroed by quantization count among the smallest). Biases are not pruned.
* **Dead-neuron removal** (the paper's "neurons with all input or output weights pruned are also
  removed"): in a fully connected ``Linear → activation → Dropout`` stack, a hidden neuron whose
  outgoing weights are all zero is deleted; one whose incoming weights are all zero outputs the
  constant ``act(b_j)``, which is folded into the next layer's bias before it is deleted.
  Repeated until nothing changes; the network's output (eval mode) is unchanged.

Complexity (Table 3)
--------------------
The paper's "number of bits that need to be stored and computed" relative to the full model is
reproduced exactly by :math:`Q(1-J)/32`: Q-bit instead of 32-bit weights, and a fraction ``J``
of them gone (e.g. ``Q = 7, J = 10 %`` gives 19.69 %, its 19.68 %). We report that as
``complexity_paper`` and, next to it, a measured count ``complexity_measured``: the bits of the
parameters that remain non-zero after quantization, pruning and dead-neuron removal (Q bits for
each weight and quantized bias, 32 for an unquantized one), divided by 32 bits times the number
of parameters of the uncompressed network. Neither counts the index overhead of a sparse storage
format or the per-layer scale factors (one float per tensor).
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn.utils import prune

from isaclearn.core.errors import ConfigError
from isaclearn.learn.precoder_nets import EntrywisePrecoderNet, NetConfig, PrecoderNet


def quantize_tensor(s: torch.Tensor, bits: int) -> torch.Tensor:
    """Eqs. (26)–(27): ``round(s / f) * f`` with ``f = (max s - min s) / 2**bits``.

    Parameters
    ----------
    s : torch.Tensor
        Real tensor of any shape (one layer's weights).
    bits : int
        ``Q >= 1``.

    Returns
    -------
    torch.Tensor
        Same shape and dtype; ``s`` itself (copied) when all its entries are equal.

    Examples
    --------
    >>> quantize_tensor(torch.tensor([0.0, 0.1, 0.35, 1.0]), 2)
    tensor([0.0000, 0.0000, 0.2500, 1.0000])
    """
    if int(bits) != bits or bits < 1:
        raise ConfigError(f"bits must be a positive integer, got {bits}")
    if s.is_complex():
        raise ConfigError("quantize_tensor expects a real tensor")
    if s.numel() == 0:
        return s.clone()
    f = (s.max() - s.min()) / (2.0**bits)
    if not bool(f > 0):
        return s.clone()
    return torch.round(s / f) * f


def _weights(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """``(module, name)`` of every weight matrix (parameters with two or more dimensions)."""
    out = []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if p.dim() >= 2:
                out.append((module, name))
    return out


def _biases(model: nn.Module) -> list[tuple[nn.Module, str]]:
    out = []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if p.dim() < 2:
                out.append((module, name))
    return out


def quantize_model(model: nn.Module, bits: int, *, include_bias: bool = True) -> nn.Module:
    """A copy of ``model`` with every weight tensor (and bias vector) quantized by
    :func:`quantize_tensor`, each with its own range."""
    out = copy.deepcopy(model)
    targets = _weights(out) + (_biases(out) if include_bias else [])
    with torch.no_grad():
        for module, name in targets:
            p = getattr(module, name)
            p.copy_(quantize_tensor(p, bits))
    return out


def prune_global(model: nn.Module, fraction: float) -> nn.Module:
    """A copy of ``model`` with the ``fraction`` of smallest-magnitude weights, counted over all
    weight matrices together, set to zero (``round(fraction × count)`` of them)."""
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"fraction must be in [0, 1), got {fraction}")
    out = copy.deepcopy(model)
    if fraction == 0.0:
        return out
    params = _weights(out)
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=fraction)
    for module, name in params:
        prune.remove(module, name)
    return out


def remove_dead_neurons(mlp: nn.Sequential) -> tuple[nn.Sequential, list[int]]:
    """Remove hidden neurons with all-zero incoming or outgoing weights (see module docstring).

    Parameters
    ----------
    mlp : nn.Sequential
        ``Linear`` layers separated by element-wise modules (activation, dropout).

    Returns
    -------
    mlp : nn.Sequential
        A new network with narrower ``Linear`` layers and identical output in eval mode.
    removed : list of int
        Neurons removed from each hidden layer.
    """
    mlp = copy.deepcopy(mlp)
    lin_idx = [i for i, mod in enumerate(mlp) if isinstance(mod, nn.Linear)]
    if len(lin_idx) < 2:
        return mlp, []
    layers: list[nn.Module] = list(mlp)
    for i in lin_idx:
        if getattr(layers[i], "bias", None) is None:
            raise ConfigError("remove_dead_neurons needs Linear layers with biases")
    removed = [0] * (len(lin_idx) - 1)
    changed = True
    while changed:
        changed = False
        for h in range(len(lin_idx) - 1):
            a, b = layers[lin_idx[h]], layers[lin_idx[h + 1]]
            assert isinstance(a, nn.Linear) and isinstance(b, nn.Linear)
            acts = layers[lin_idx[h] + 1 : lin_idx[h + 1]]
            w_in, w_out = a.weight.detach(), b.weight.detach()
            dead_in = (w_in == 0).all(dim=1)
            dead_out = (w_out == 0).all(dim=0)
            dead = dead_in | dead_out
            if not bool(dead.any()) or int(dead.sum()) == w_in.shape[0]:
                continue  # keep at least one neuron per layer
            keep = ~dead
            with torch.no_grad():
                # Constant outputs of neurons without inputs move into the next bias.
                const_idx = (dead_in & ~dead_out).nonzero().squeeze(-1)
                new_b_bias = b.bias.detach().clone()
                if const_idx.numel():
                    x = a.bias.detach()[const_idx][None]
                    for act in acts:
                        if not isinstance(act, nn.Dropout):  # dropout is the identity in eval
                            x = act(x)
                    new_b_bias = new_b_bias + (w_out[:, const_idx] @ x[0])
                new_a = nn.Linear(a.in_features, int(keep.sum()))
                new_a.weight.copy_(w_in[keep])
                new_a.bias.copy_(a.bias.detach()[keep])
                new_b = nn.Linear(int(keep.sum()), b.out_features)
                new_b.weight.copy_(w_out[:, keep])
                new_b.bias.copy_(new_b_bias)
            layers[lin_idx[h]], layers[lin_idx[h + 1]] = new_a, new_b
            removed[h] += int(dead.sum())
            changed = True
    return nn.Sequential(*layers), removed


@dataclass
class CompressionReport:
    """Sizes before and after compression (see the module docstring for the definitions).

    Attributes
    ----------
    bits : int
        ``Q`` (32 means no quantization).
    prune_fraction : float
        ``J``.
    num_params_full : int
        Parameters of the uncompressed network (weights and biases).
    num_weights_full : int
        Weights of the uncompressed network.
    num_nonzero_weights : int
        Non-zero weights after compression.
    num_params_kept : int
        Non-zero parameters after compression and dead-neuron removal.
    weight_sparsity : float
        Fraction of the original weights that are zero or removed.
    neurons_removed : list of int
        Per hidden layer.
    hidden : list of int
        Hidden widths after removal.
    complexity_paper : float
        ``Q (1 - J) / 32`` (Table 3's convention).
    complexity_measured : float
        Bits of the remaining non-zero parameters / (32 × ``num_params_full``).
    """

    bits: int
    prune_fraction: float
    num_params_full: int
    num_weights_full: int
    num_nonzero_weights: int
    num_params_kept: int
    weight_sparsity: float
    neurons_removed: list[int]
    hidden: list[int]
    complexity_paper: float
    complexity_measured: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _count(model: nn.Module) -> tuple[int, int, int, int]:
    """(params, weights, non-zero weights, non-zero biases)."""
    params = sum(p.numel() for p in model.parameters())
    weights = [getattr(m, n) for m, n in _weights(model)]
    biases = [getattr(m, n) for m, n in _biases(model)]
    nw = sum(w.numel() for w in weights)
    nzw = sum(int((w != 0).sum()) for w in weights)
    nzb = sum(int((b != 0).sum()) for b in biases)
    return params, nw, nzw, nzb


def compress(
    net: PrecoderNet,
    bits: int | None,
    prune_fraction: float,
    *,
    include_bias: bool = True,
    remove_dead: bool = True,
) -> tuple[PrecoderNet, CompressionReport]:
    """Quantize (``bits``; ``None`` or 32 keeps float32), then prune globally, then remove dead
    neurons (entry-wise networks only; for others the pruned weights just stay zero).

    Returns
    -------
    net : PrecoderNet
        The compressed network (a new object, eval mode). For an entry-wise network its
        :class:`NetConfig` ``hidden`` holds the widths after dead-neuron removal.
    report : CompressionReport
    """
    q = 32 if bits is None else int(bits)
    params_full, weights_full, _, _ = _count(net)
    out: nn.Module = net
    if q < 32:
        out = quantize_model(out, q, include_bias=include_bias)
    out = prune_global(out, prune_fraction)
    removed: list[int] = []
    if isinstance(out, EntrywisePrecoderNet) and remove_dead:
        mlp, removed = remove_dead_neurons(out.mlp)
        widths = [mod.out_features for mod in mlp if isinstance(mod, nn.Linear)][:-1]
        cfg = NetConfig(**{**out.config.to_dict(), "hidden": tuple(widths)})
        new = EntrywisePrecoderNet(cfg)
        new.mlp = mlp
        out = new
    assert isinstance(out, PrecoderNet)
    out.eval()
    hidden = list(out.config.hidden) if isinstance(out, EntrywisePrecoderNet) else []
    _, _, nzw, nzb = _count(out)
    bias_bits = q if (q < 32 and include_bias) else 32
    measured = (q * nzw + bias_bits * nzb) / (32.0 * params_full)
    report = CompressionReport(
        bits=q,
        prune_fraction=float(prune_fraction),
        num_params_full=params_full,
        num_weights_full=weights_full,
        num_nonzero_weights=nzw,
        num_params_kept=nzw + nzb,
        weight_sparsity=1.0 - nzw / max(weights_full, 1),
        neurons_removed=removed,
        hidden=hidden,
        complexity_paper=q * (1.0 - float(prune_fraction)) / 32.0,
        complexity_measured=measured,
    )
    if not math.isfinite(report.complexity_measured):  # pragma: no cover - defensive
        raise ConfigError("complexity could not be computed")
    return out, report
