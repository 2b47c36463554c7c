r"""Fast batched inference of :class:`~isaclearn.learn.StructuredPrecoderNet` (features → network
→ precoder), equal to ``net(h, theta, ...)[1]`` in eval mode up to floating-point rounding.

:func:`structured_inference` computes the same three stages as the module's ``forward`` (the
token features, the pre-norm Transformer encoder and the precoder form of
:func:`~isaclearn.learn.precoder_nets.structured_precoder`), rearranged so that a CPU spends its
time on arithmetic rather than on small-kernel overhead and memory traffic:

* **Chunks.** The network (embedding, encoder, head) runs ``chunk_size`` instances at a time
  (default 512), so that its activations (``chunk_size · K · d_model`` floats) stay in the
  core's cache between the many element-wise steps; the features and the precoder form, whose
  cost is in per-matrix LAPACK calls, run on the whole batch.
* **Cholesky instead of LU.** Both matrices that are inverted are Hermitian positive definite:
  the regularized Gram matrix of the features, :math:`\mathbf G = \mathbf H\mathbf H^H +
  (K\sigma^2/P_t)\mathbf I_K`, whose inverse is needed only on its diagonal
  (:func:`torch.cholesky_inverse`), and the matrix of the precoder form,
  :math:`\mathbf A = \sigma^2\mathbf I_M + \sum_i\lambda_i\mathbf h_i^H\mathbf h_i` with
  :math:`\lambda_i \ge 0`, applied as :math:`\mathbf A^{-1}\mathbf R = \mathbf L^{-H}(\mathbf
  L^{-1}\mathbf R)` with :math:`\mathbf L^{-1}` from one batched triangular solve and two small
  matrix products. For small batched complex matrices this is cheaper than LU with pivoting.
  Should a factorization fail numerically (``info > 0``: not positive definite in floating
  point), the batch falls back to the general solver the reference uses.
* **Attention without per-head small matrix products.** Attention over the ``K`` user tokens of
  an instance with ``H`` heads of width ``d_h`` is written with the keys and values arranged
  block-diagonally over the heads, :math:`\mathbf S = \mathbf Q\,\mathrm{blkdiag}_h(\mathbf
  K_h^T)` (``[K, H K]``) and :math:`\mathbf O = \mathrm{softmax}_{\text{per head}}(\mathbf S)\,
  \mathrm{blkdiag}_h(\mathbf V_h)` (``[K, d]``): two batched products per layer whose batch is the
  instances (``H`` times fewer, ``H`` times larger products than per head), with the heads
  already concatenated in the output, so that no ``[B, H, K, d_h]`` transposed copies are made.
  The block-diagonal buffers are allocated once per chunk size; only their diagonal blocks are
  written. The softmax over ``K`` keys is written with element-wise operations (PyTorch's
  softmax kernel is slow for rows this short), without subtracting the row maximum when a bound
  on the scores from the weights alone (:func:`_score_bound`) shows that ``exp`` cannot
  overflow; ``1/√d_h`` is folded into the query weights.
* **Shared target angles.** When every instance has the same target angles (the usual test
  set), the steering vectors are computed once and the products with them become one
  ``[B K, M] × [M, T]`` matrix product.
* Layer norms, biases and residual additions use fused ``addmm`` / in-place operations, and
  the whole computation runs without autograd (``torch.no_grad``; the result is an ordinary
  tensor, which callers may modify in place, unlike one made under ``inference_mode``).

The reference computation stays the module's ``forward`` (used by training and validation, so
trained networks are unchanged); ``tests/test_learn_nets.py`` checks that both agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from isaclearn.arrays import ula
from isaclearn.core.errors import ConfigError
from isaclearn.core.linalg import abs_sq
from isaclearn.learn.precoder_nets import StructuredPrecoderNet, _check_inputs

DEFAULT_CHUNK = 512
"""Instances per chunk of :func:`structured_inference` (activations of a chunk fit in L2)."""


@dataclass
class _Layer:
    """Weights of one pre-norm encoder layer, arranged for :func:`_encoder`."""

    norm1: nn.LayerNorm
    w_qkv_t: torch.Tensor  # [d, 3d], query part scaled by 1/sqrt(d_h)
    b_qkv: torch.Tensor  # [3d]
    w_out_t: torch.Tensor  # [d, d]
    b_out: torch.Tensor  # [d]
    norm2: nn.LayerNorm
    w1_t: torch.Tensor  # [d, f]
    b1: torch.Tensor
    w2_t: torch.Tensor  # [f, d]
    b2: torch.Tensor
    activation: object
    shift: bool  # subtract the row maximum before exp (scores not bounded by _MAX_SCORE)


def _layers(encoder: nn.TransformerEncoder) -> list[_Layer] | None:
    """The encoder's layers as :class:`_Layer`, or ``None`` if one is not of the supported kind
    (pre-norm, packed input projection, no final encoder norm)."""
    if encoder.norm is not None:
        return None
    out = []
    for layer in encoder.layers:
        if not isinstance(layer, nn.TransformerEncoderLayer) or not layer.norm_first:
            return None
        attn = layer.self_attn
        if attn.in_proj_weight is None or attn.in_proj_bias is None or not attn.batch_first:
            return None
        d = attn.embed_dim
        scale = 1.0 / math.sqrt(d // attn.num_heads)
        w_qkv = attn.in_proj_weight.detach().clone()
        b_qkv = attn.in_proj_bias.detach().clone()
        w_qkv[:d] *= scale
        b_qkv[:d] *= scale
        out_proj = attn.out_proj
        shift = _score_bound(layer.norm1, w_qkv, b_qkv, attn.num_heads) > _MAX_SCORE
        if out_proj.bias is None or layer.linear1.bias is None or layer.linear2.bias is None:
            return None
        out.append(_Layer(
            norm1=layer.norm1, w_qkv_t=w_qkv.t().contiguous(), b_qkv=b_qkv,
            w_out_t=out_proj.weight.detach().t().contiguous(), b_out=out_proj.bias.detach(),
            norm2=layer.norm2, w1_t=layer.linear1.weight.detach().t().contiguous(),
            b1=layer.linear1.bias.detach(), w2_t=layer.linear2.weight.detach().t().contiguous(),
            b2=layer.linear2.bias.detach(), activation=layer.activation, shift=shift,
        ))
    return out


_MAX_SCORE = 60.0
"""Attention scores are exponentiated without subtracting their maximum when a bound on their
magnitude from the weights alone stays below this (``e^60`` and ``e^-60`` are normal floats)."""


def _score_bound(norm1: nn.LayerNorm, w_qkv: torch.Tensor, b_qkv: torch.Tensor,
                 num_heads: int) -> float:
    r"""Upper bound on ``|q_i · k_j|`` over all inputs of one attention layer.

    The layer norm's output ``y = γ ⊙ n + β`` has :math:`\|\mathbf n\| \le \sqrt d`, so
    :math:`\|\mathbf y\| \le r = \sqrt d \max|\gamma| + \|\beta\|`, and per head
    :math:`|\mathbf q\cdot\mathbf k| \le (\|W_q\|_2 r + \|b_q\|)(\|W_k\|_2 r + \|b_k\|)`
    (``w_qkv``, ``b_qkv`` with the query part already scaled by ``1/√d_h``). Softmax is
    invariant to the shift, so skipping it changes nothing but rounding.
    """
    d = w_qkv.shape[1]
    dh = d // num_heads
    r = math.sqrt(d) * (float(norm1.weight.detach().abs().max()) if norm1.weight is not None
                        else 1.0)
    if norm1.bias is not None:
        r += float(norm1.bias.detach().norm())
    worst = 0.0
    for i in range(num_heads):
        rows = slice(i * dh, (i + 1) * dh)
        wq, bq = w_qkv[:d][rows], b_qkv[:d][rows]
        wk, bk = w_qkv[d:2 * d][rows], b_qkv[d:2 * d][rows]
        bound = ((float(torch.linalg.matrix_norm(wq.double(), 2)) * r + float(bq.norm()))
                 * (float(torch.linalg.matrix_norm(wk.double(), 2)) * r + float(bk.norm())))
        worst = max(worst, bound)
    return worst if math.isfinite(worst) else math.inf


def _layer_norm(x: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
    return F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)


class _Encoder:
    """Eval-mode pre-norm Transformer encoder on ``[b, K, d]`` tokens (see module docstring)."""

    def __init__(self, layers: list[_Layer], num_heads: int, num_tokens: int) -> None:
        self.layers = layers
        self.h = num_heads
        self.k = num_tokens
        self._buffers: dict[tuple[int, torch.dtype, torch.device], tuple[torch.Tensor,
                                                                          torch.Tensor]] = {}

    def _blocks(self, b: int, d: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Zeroed block-diagonal key ``[b, d, H K]`` and value ``[b, H K, d]`` buffers."""
        key = (b, like.dtype, like.device)
        if key not in self._buffers:
            k, h = self.k, self.h
            self._buffers[key] = (like.new_zeros(b, d, h * k), like.new_zeros(b, h * k, d))
        return self._buffers[key]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        b, k, d = x.shape
        h = self.h
        dh = d // h
        kbd, vbd = self._blocks(b, d, x)  # off-diagonal blocks stay zero
        kdiag = kbd.view(b, h, dh, h, k).diagonal(dim1=1, dim2=3)  # [b, d_h, K, H] blocks
        vdiag = vbd.view(b, h, k, h, dh).diagonal(dim1=1, dim2=3)  # [b, K, d_h, H] blocks
        x = x.reshape(b * k, d)
        for lay in self.layers:
            y = _layer_norm(x, lay.norm1)
            qkv = torch.addmm(lay.b_qkv, y, lay.w_qkv_t).view(b, k, 3 * d)
            keys_t = qkv[:, :, d:2 * d].transpose(1, 2)  # [b, d, K]
            values = qkv[:, :, 2 * d:]  # [b, K, d]
            kdiag.copy_(keys_t.reshape(b, h, dh, k).permute(0, 2, 3, 1))
            vdiag.copy_(values.reshape(b, k, h, dh).permute(0, 1, 3, 2))
            s = torch.bmm(qkv[:, :, :d], kbd).view(b, k, h, k)  # scores [b, query, head, key]
            if lay.shift:
                s = s.sub_(s.amax(-1, keepdim=True))
            s = s.exp_()
            s = s.div_(s.sum(-1, keepdim=True))
            o = torch.bmm(s.view(b, k, h * k), vbd).view(b * k, d)  # heads concatenated
            x = torch.addmm(x, o, lay.w_out_t).add_(lay.b_out)
            y = _layer_norm(x, lay.norm2)
            f = lay.activation(torch.addmm(lay.b1, y, lay.w1_t))  # type: ignore[operator]
            x = torch.addmm(x, f, lay.w2_t).add_(lay.b2)
        return x.view(b, k, d)


def _softmax_last(x: torch.Tensor) -> torch.Tensor:
    e = (x - x.amax(-1, keepdim=True)).exp_()
    return e.div_(e.sum(-1, keepdim=True))


def _diag_of_inverse(g: torch.Tensor) -> torch.Tensor:
    """Real diagonal of the inverse of Hermitian positive-definite ``g`` ``[b, n, n]``."""
    chol, info = torch.linalg.cholesky_ex(g)
    if bool(info.any()):
        inv = torch.linalg.inv(g)
    else:
        inv = torch.cholesky_inverse(chol)
    return torch.diagonal(inv, dim1=-2, dim2=-1).real


def _hpd_solve(g: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """``g⁻¹ rhs`` for Hermitian positive-definite ``g`` ``[b, n, n]``: ``g⁻¹ = L⁻ᴴ L⁻¹`` from
    the Cholesky factor ``L`` (LU if Cholesky fails)."""
    chol, info = torch.linalg.cholesky_ex(g)
    if bool(info.any()):
        return torch.linalg.solve(g, rhs)
    eye = torch.eye(g.shape[-1], dtype=g.dtype, device=g.device).expand_as(g)
    inv_chol = torch.linalg.solve_triangular(chol, eye, upper=False, left=False)  # L⁻¹
    return inv_chol.mH @ (inv_chol @ rhs)


def structured_inference(
    net: StructuredPrecoderNet,
    h: torch.Tensor,
    theta: torch.Tensor,
    *,
    power: float = 1.0,
    noise_var: float = 1e-2,
    rho: torch.Tensor | float | None = None,
    chunk_size: int = DEFAULT_CHUNK,
) -> torch.Tensor:
    r"""Precoder ``w`` of ``net`` in eval mode: ``net.eval()(h, theta, ...)[1]`` computed fast.

    Parameters
    ----------
    net : StructuredPrecoderNet
        The network; its mode is not changed (dropout is inactive here whatever the mode).
    h : torch.Tensor
        ``[B, K, M]`` complex channel estimate, in the complex dtype of the network's weights.
    theta : torch.Tensor
        ``[B, T]`` or ``[T]`` target angles, radians.
    power : float
        :math:`P_t` in watts.
    noise_var : float
        :math:`\sigma^2` in watts.
    rho : float or torch.Tensor or None
        Trade-off weight(s), scalar or ``[B]``; required iff the network is ``ρ``-conditioned.
    chunk_size : int
        Instances processed at a time.

    Returns
    -------
    torch.Tensor
        ``[B, M, K]`` complex with :math:`\|\mathbf W\|_F^2 = \sum_k p_k = P_t` (the form
        meets eq. 21 by construction, so the power scaling is not applied again), no gradient.

    Raises
    ------
    ShapeError, ConfigError
        As the module's ``forward``; ``chunk_size < 1``.

    Notes
    -----
    Equal to the module's eval-mode output up to floating-point rounding (different but
    equivalent operation orders, Cholesky instead of LU); not bit-identical. A network whose
    encoder is not of the kind :class:`StructuredPrecoderNet` builds is run by its ``forward``.
    """
    if chunk_size < 1:
        raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")
    cfg = net.config
    theta_t, r = _check_inputs(h, theta, cfg, rho)
    layers = _layers(net.encoder)
    with torch.no_grad():
        if layers is None:
            was = net.training
            net.eval()
            try:
                return net(h, theta_t, power=power, noise_var=noise_var, rho=r)[1]
            finally:
                net.train(was)
        encoder = _Encoder(layers, net.encoder.layers[0].self_attn.num_heads, cfg.num_users)
        m = cfg.num_antennas
        shared = bool((theta_t == theta_t[:1]).all()) if theta_t.shape[0] > 0 else False
        a_shared = ula(m, theta_t[0]).to(h.dtype) if shared else None  # [T, M]
        if h.shape[0] == 0:
            return h.new_zeros(0, m, cfg.num_users)
        x, gain_raw, a_mt = _features(h, theta_t, r, a_shared, power=power,
                                      noise_var=noise_var)
        y = torch.cat([_network(net, encoder, x[s:s + chunk_size],
                                None if r is None else r[s:s + chunk_size])
                       for s in range(0, h.shape[0], chunk_size)])
        # ||W||_F^2 = sum_k p_k = P_t already (softmax powers), so eq. (21) is not re-applied
        return _precoder(h, y.to(h.real.dtype), gain_raw, a_mt, shared, power=power,
                         noise_var=noise_var)


def _features(h: torch.Tensor, theta: torch.Tensor, rho: torch.Tensor | None,
              a_shared: torch.Tensor | None, *, power: float, noise_var: float
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Token features ``[B, K, F]`` (:meth:`StructuredPrecoderNet.token_features`), the channel
    gains ``||h_k||²`` ``[B, K]`` and the scaled steering matrix ``a/√M`` (``[M, T]`` when shared,
    else ``[B, M, T]``)."""
    b, k, m = h.shape
    t = theta.shape[-1]
    rdt = h.real.dtype
    tiny = torch.finfo(rdt).tiny
    gain_raw = abs_sq(h).sum(-1)  # ||h_k||^2, [B, K]
    gain = gain_raw.clamp_min(tiny)
    snr = torch.log10(power * gain / noise_var)
    gram = h @ h.mH
    gram.diagonal(dim1=-2, dim2=-1).add_(k * noise_var / power)
    diag_inv = _diag_of_inverse(gram)
    rzf_gain = torch.log10(power / (noise_var * diag_inv.clamp_min(tiny)))
    hn = h * torch.rsqrt(gain / m)[..., None]
    if a_shared is not None:
        corr = (hn.reshape(b * k, m) @ a_shared.mT).view(b, k, t)
        a_mt = a_shared.mT / math.sqrt(m)  # [M, T]
    else:
        a = ula(m, theta).to(h.dtype)  # [B, T, M]
        corr = hn @ a.mT
        a_mt = a.mT / math.sqrt(m)  # [B, M, T]
    align = abs_sq(corr) / (m * m)
    ang = torch.cat([torch.sin(theta), torch.cos(theta)], dim=-1)  # [B, 2T]
    parts = [snr[..., None] / 2.0, rzf_gain[..., None] / 2.0, hn.real, hn.imag, align,
             ang[:, None, :].expand(b, k, -1)]
    if rho is not None:
        parts.append(rho.to(rdt)[:, None, None].expand(b, k, 1))
    return torch.cat(parts, dim=-1), gain_raw, a_mt


def _network(net: StructuredPrecoderNet, encoder: _Encoder, x: torch.Tensor,
             rho: torch.Tensor | None) -> torch.Tensor:
    """Head outputs ``[b, K, 3 + 2T]`` for the features ``x`` ``[b, K, F]`` of a chunk."""
    b, k, _ = x.shape
    e = F.linear(x.to(net.embed.weight.dtype), net.embed.weight, net.embed.bias)
    z = _layer_norm(encoder(e).reshape(b * k, -1), net.norm)
    if rho is not None:
        z = torch.cat([z, rho.to(z.dtype).repeat_interleave(k)[:, None]], -1)
    return F.linear(z, net.head.weight, net.head.bias).view(b, k, -1)


def _precoder(h: torch.Tensor, y: torch.Tensor, gain_raw: torch.Tensor, a_mt: torch.Tensor,
              shared: bool, *, power: float, noise_var: float) -> torch.Tensor:
    """``w_raw`` ``[B, M, K]`` from the head outputs ``y`` (parameters_of_form and
    :func:`~isaclearn.learn.precoder_nets.structured_precoder`)."""
    b, k, m = h.shape
    t = a_mt.shape[-1]
    tiny = torch.finfo(y.dtype).tiny
    kappa = torch.exp(y[..., 2].mean(-1, keepdim=True))
    lam = power * kappa * _softmax_last(y[..., 0])
    p = power * _softmax_last(y[..., 1])
    scale = torch.sqrt(gain_raw)[..., None]  # ||h_k||
    c = torch.complex(y[..., 3:3 + t] * scale, y[..., 3 + t:3 + 2 * t] * scale).to(h.dtype)
    hh = h.mH  # [B, M, K]
    g = hh @ (lam.to(h.dtype)[..., None] * h)
    g.diagonal(dim1=-2, dim2=-1).add_(noise_var)
    if shared:
        steer = (c.reshape(b * k, t) @ a_mt.mT).view(b, k, m).mT  # (a c^T)/sqrt(M), [B, M, K]
    else:
        steer = a_mt @ c.mT
    u = _hpd_solve(g, hh + steer)
    # w_k = sqrt(p_k) u_k / ||u_k||, one complex pass
    amp = torch.sqrt(p.clamp_min(tiny))[:, None, :] * torch.rsqrt(
        abs_sq(u).sum(-2, keepdim=True).clamp_min(tiny))
    return u * amp
