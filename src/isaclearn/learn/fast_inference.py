r"""Fast batched inference of :class:`~isaclearn.learn.StructuredPrecoderNet` (features → network
→ precoder), equal to ``net(h, theta, ...)[1]`` in eval mode up to floating-point rounding.

:func:`structured_inference` computes the same three stages as the module's ``forward`` (the
token features, the pre-norm Transformer encoder and the precoder form of
:func:`~isaclearn.learn.precoder_nets.structured_precoder`), rearranged so that a CPU spends its
time on arithmetic rather than on small-kernel overhead and memory traffic:

* **Chunks.** Features, network and precoder form run ``chunk_size`` instances at a time
  (default 512): the network's work buffers are allocated once and its per-operation overhead
  is paid once per chunk, and the temporaries of all three stages stay small (cache-resident,
  reused by the allocator) however large the batch.
* **Feature-major layout.** Inside a chunk of ``b`` instances every activation is a ``[d, K b]``
  matrix whose columns are the tokens, ordered (token, instance), so the instance index is the
  innermost, contiguous one. Every linear map is then one large matrix product ``W X`` (the bias
  as an extra column of ``W`` against a row of ones kept in the input buffer; a layer norm's
  affine map :math:`\gamma, \beta` folded into the weights that follow it; the maps that write
  to the residual stream centered, :func:`_centered`, so that a layer norm needs no mean: one
  reduction and two element-wise passes over the ``d`` rows), and attention over the ``K``
  tokens of every instance is written with element-wise operations that are long vectorised
  loops over the instances: the scores :math:`s_{h,i,j} = \mathbf q_{h,i}\cdot\mathbf k_{h,j}`
  (``[H, K, K, b]``) are accumulated over the ``d_h`` features of a head by ``d_h`` fused
  multiply-adds, and the outputs :math:`\mathbf o_{h,i} = \sum_j e^{s_{h,i,j}}\mathbf v_{h,j} /
  \sum_j e^{s_{h,i,j}}` by ``K`` of them. PyTorch's softmax and small batched matrix products
  are slow for rows of only ``K`` entries; no ``[B, H, K, d_h]`` transposed copies are made.
  The softmax is computed without subtracting the row maximum when a bound on the scores from
  the weights alone (:func:`_score_bound`) shows that ``exp`` cannot overflow; ``1/√d_h`` is
  folded into the query weights.
* **Cholesky instead of LU.** Both matrices that are inverted are Hermitian positive definite:
  the regularized Gram matrix of the features, :math:`\mathbf G = \mathbf H\mathbf H^H +
  (K\sigma^2/P_t)\mathbf I_K`, whose inverse is needed only on its diagonal, and the matrix of
  the precoder form,
  :math:`\mathbf A = \sigma^2\mathbf I_M + \sum_i\lambda_i\mathbf h_i^H\mathbf h_i` with
  :math:`\lambda_i \ge 0`, applied to the right-hand side :math:`\mathbf R` as one batched
  product :math:`\mathbf A^{-1}\mathbf R`. Each inverse comes from the Cholesky factor,
  :math:`\mathbf G^{-1} = \mathbf L^{-H}\mathbf L^{-1}` (LAPACK ``potrf`` then ``potri``:
  ``cholesky_ex`` then ``cholesky_inverse``), which for small batched complex matrices is
  cheaper than LU with pivoting and than triangular solves with a right-hand side. Should a
  factorization fail numerically (``info > 0``: not positive definite in floating point),
  that chunk falls back to the general solver the reference uses. The channel gains
  :math:`\|\mathbf h_k\|^2` are read off the diagonal of :math:`\mathbf H\mathbf H^H`
  before the regularization is added.
* **Shared target angles.** When every instance has the same target angles (the usual test
  set), the steering vectors are computed once and the products with them become one
  ``[B K, M] × [M, T]`` matrix product.
* **Prepared weights.** The rearranged weights (folded, transposed, with bias columns) are
  kept per network and reused while its parameters are unchanged (:func:`_prepared`); the
  work buffers are made per call, so concurrent calls share nothing writable.
* Residual additions are in-place ``addmm_``, and the whole computation runs without
  autograd (``torch.no_grad``; the result is an ordinary tensor, which callers may modify in
  place, unlike one made under ``inference_mode``).

The reference computation stays the module's ``forward`` (used by training and validation, so
trained networks are unchanged); ``tests/learn/test_learn_nets.py`` checks that both agree.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from isaclearn.arrays import ula
from isaclearn.core.errors import ConfigError
from isaclearn.core.linalg import abs_sq
from isaclearn.learn.precoder_nets import StructuredPrecoderNet, _check_inputs

DEFAULT_CHUNK = 512
"""Instances per chunk of :func:`structured_inference`."""


@dataclass
class _Layer:
    """Weights of one pre-norm encoder layer, arranged for :class:`_Network` (feature-major:
    every weight is ``[out, in + 1]`` with the bias as its last column, the preceding layer
    norm's affine map folded in)."""

    eps1: float
    w_qkv: torch.Tensor  # [3d, d+1]: norm1's γ, β folded in, query rows scaled by 1/sqrt(d_h)
    w_out: torch.Tensor  # [d, d+1]
    eps2: float
    w1: torch.Tensor  # [f, d+1]: norm2's γ, β folded in
    w2: torch.Tensor  # [d, f+1]
    activation: object
    shift: bool  # subtract the row maximum before exp (scores not bounded by _MAX_SCORE)


def _with_bias(w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``[W | b]`` ``[out, in + 1]``: applied to an input with a row of ones appended."""
    return torch.cat([w, b[:, None]], 1).contiguous()


def _centered(w: torch.Tensor) -> torch.Tensor:
    r"""``C W`` with the centering matrix :math:`\mathbf C = \mathbf I_d - \mathbf 1\mathbf
    1^T/d`: the rows of ``w`` ``[d, ·]`` minus their mean.

    Every map that writes to the residual stream (the embedding, the attention output
    projection, the second feed-forward layer) is centered, so the stream holds
    :math:`\mathbf C\mathbf x` instead of :math:`\mathbf x` (columns of mean zero). The stream
    is read only by layer norms, and a layer norm depends on :math:`\mathbf x` only through
    :math:`\mathbf C\mathbf x` (:math:`\mathrm{LN}(\mathbf x) = \mathbf C\mathbf x /
    \sqrt{\|\mathbf C\mathbf x\|^2/d + \epsilon}`), so the result is the same while no layer
    norm has to compute and subtract a mean.
    """
    return (w - w.mean(0, keepdim=True)).contiguous()


def _fold_norm(norm: nn.LayerNorm, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""``[W diag(γ) | Wβ + b]``: :math:`W(\gamma\odot\hat x+\beta)+b` as one product with the
    normalized input :math:`\hat x` (ones row appended)."""
    d = w.shape[1]
    gamma = norm.weight.detach() if norm.weight is not None else w.new_ones(d)
    beta = norm.bias.detach() if norm.bias is not None else w.new_zeros(d)
    return _with_bias(w * gamma, w @ beta + b)


def _layers(encoder: nn.TransformerEncoder) -> list[_Layer] | None:
    """The encoder's layers as :class:`_Layer`, or ``None`` if one is not of the supported kind
    (pre-norm, packed input projection, biases, no final encoder norm)."""
    if encoder.norm is not None:
        return None
    out = []
    for layer in encoder.layers:
        if not isinstance(layer, nn.TransformerEncoderLayer) or not layer.norm_first:
            return None
        attn = layer.self_attn
        if attn.in_proj_weight is None or attn.in_proj_bias is None or not attn.batch_first:
            return None
        out_proj = attn.out_proj
        if out_proj.bias is None or layer.linear1.bias is None or layer.linear2.bias is None:
            return None
        d = attn.embed_dim
        scale = 1.0 / math.sqrt(d // attn.num_heads)
        w_qkv = attn.in_proj_weight.detach().clone()
        b_qkv = attn.in_proj_bias.detach().clone()
        w_qkv[:d] *= scale
        b_qkv[:d] *= scale
        shift = _score_bound(layer.norm1, w_qkv, b_qkv, attn.num_heads) > _MAX_SCORE
        out.append(_Layer(
            eps1=layer.norm1.eps, w_qkv=_fold_norm(layer.norm1, w_qkv, b_qkv),
            w_out=_centered(_with_bias(out_proj.weight.detach(), out_proj.bias.detach())),
            eps2=layer.norm2.eps,
            w1=_fold_norm(layer.norm2, layer.linear1.weight.detach(), layer.linear1.bias.detach()),
            w2=_centered(_with_bias(layer.linear2.weight.detach(), layer.linear2.bias.detach())),
            activation=layer.activation, shift=shift,
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


class _Network:
    """Eval-mode embedding, pre-norm Transformer encoder, final norm and head of a
    :class:`StructuredPrecoderNet`, in the feature-major layout (see module docstring)."""

    def __init__(self, net: StructuredPrecoderNet, layers: list[_Layer]) -> None:
        self.layers = layers
        self.h = net.encoder.layers[0].self_attn.num_heads
        self.d = net.config.d_model
        self.embed = _centered(_with_bias(net.embed.weight.detach(), net.embed.bias.detach()))
        d = self.d
        w_head, b_head = net.head.weight.detach(), net.head.bias.detach()
        self.head = _fold_norm(net.norm, w_head[:, :d], b_head)
        self.head_rho = w_head[:, d] if w_head.shape[1] > d else None  # ρ's column
        self.eps = net.norm.eps

    def _bufs(self, buffers: dict[tuple[int, int, int], _Buffers], f: int, k: int, b: int,
              like: torch.Tensor) -> _Buffers:
        """Work buffers for ``b`` instances (the rows of ones, bias inputs, written once) and
        the views of them that the attention loops use."""
        key = (f, k, b)
        if key not in buffers:
            buffers[key] = _Buffers(f, k, b, self.d, self.h,
                                    self.layers[0].w1.shape[0] if self.layers else 0,
                                    self.head.shape[0], like)
        return buffers[key]

    def _norm_into(self, x: torch.Tensor, out: torch.Tensor, sq: torch.Tensor,
                   eps: float) -> None:
        """Layer norm without affine map of the columns of the centered residual stream ``x``
        ``[d, n]`` (every column has mean zero, see :func:`_centered`) into ``out[:d]``:
        ``x / sqrt(mean(x²) + eps)``."""
        torch.mul(x, torch.mean(torch.mul(x, x, out=sq), 0).add_(eps).rsqrt_(),
                  out=out[:x.shape[0]])

    def __call__(self, feats: torch.Tensor, rho: torch.Tensor | None,
                 buffers: dict[tuple[int, int, int], _Buffers]) -> torch.Tensor:
        """Head outputs ``[3 + 2T, K, b]`` for the features ``[F + 1, K, b]`` of a chunk (last
        row ones, as :func:`_features` makes them), in a buffer of ``buffers`` (work buffers
        by chunk size, filled on first use; one dictionary per call of
        :func:`structured_inference`)."""
        f, k, b = feats.shape
        f -= 1
        bf = self._bufs(buffers, f, k, b, self.embed)
        n = k * b
        x = torch.mm(self.embed, feats.reshape(f + 1, n).to(self.embed.dtype),
                     out=bf.x)  # residual stream [d, n]
        s, o = bf.scores, bf.o
        for lay in self.layers:
            self._norm_into(x, bf.normed, bf.sq, lay.eps1)
            torch.mm(lay.w_qkv, bf.normed, out=bf.qkv)
            # s[h, i, j] = q_i · k_j per head and instance, accumulated over the head's features
            torch.mul(bf.q_c[0], bf.k_c[0], out=s)
            for qc, kc in zip(bf.q_c[1:], bf.k_c[1:], strict=True):
                s.addcmul_(qc, kc)
            if lay.shift:
                s.sub_(s.amax(2, keepdim=True))
            s.exp_()
            den = s.sum(2)  # [H, K(query), b]
            # o[h, :, i] = sum_j e[h, i, j] v_j / sum_j e[h, i, j]
            torch.mul(bf.s_j[0], bf.v_j[0], out=o)
            for sj, vj in zip(bf.s_j[1:], bf.v_j[1:], strict=True):
                o.addcmul_(sj, vj)
            o.mul_(den.reciprocal_()[:, None])
            x.addmm_(lay.w_out, bf.attended)
            self._norm_into(x, bf.normed, bf.sq, lay.eps2)
            hid = torch.mm(lay.w1, bf.normed, out=bf.hidden[:-1])
            if lay.activation is F.silu:
                F.silu(hid, inplace=True)
            else:
                hid.copy_(lay.activation(hid))  # type: ignore[operator]
            x.addmm_(lay.w2, bf.hidden)
        self._norm_into(x, bf.normed, bf.sq, self.eps)
        y = torch.mm(self.head, bf.normed, out=bf.y)  # [3 + 2T, n]
        if self.head_rho is not None and rho is not None:
            y.addr_(self.head_rho, rho.to(y.dtype).repeat(k))
        return y.view(-1, k, b)


class _Buffers:
    """Work buffers of :class:`_Network` for chunks of ``b`` instances, columns ordered
    (token, instance), and the per-feature / per-key views the attention loops use."""

    def __init__(self, f: int, k: int, b: int, d: int, nh: int, fw: int, n_out: int,
                 like: torch.Tensor) -> None:
        n = k * b
        dh = d // nh
        # Buffers whose contents are never needed at the same time share memory (a smaller
        # footprint stays in cache): the normalized tokens and the attention output; the
        # feed-forward hidden layer, the attention scores and the layer norm's squares.
        self.x = like.new_empty(d, n)  # residual stream, column (k, instance)
        self.y = like.new_empty(n_out, n)  # head output
        self.normed = like.new_ones(d + 1, n)  # normalized tokens; last row ones (bias)
        self.attended = self.normed  # attention output (after the q, k, v product)
        shared = like.new_ones(max(fw, d, nh * k) + 1, n)  # last row ones (bias)
        self.hidden = shared[-fw - 1:]  # feed-forward hidden layer
        self.sq = shared.view(-1)[:d * n].view(d, n)  # squares (layer norm)
        self.scores = shared.view(-1)[:nh * k * n].view(nh, k, k, b)  # [head, query, key, b]
        self.qkv = like.new_empty(3 * d, n)
        self.o = self.attended[:d].view(nh, dh, k, b)
        q, keys, v = self.qkv.view(3, nh, dh, k, b).unbind(0)
        self.q_c = [q[:, c, :, None] for c in range(dh)]  # [H, K(i), 1, b]
        self.k_c = [keys[:, c, None] for c in range(dh)]  # [H, 1, K(j), b]
        self.s_j = [self.scores[:, None, :, j] for j in range(k)]  # [H, 1, K(i), b]
        self.v_j = [v[:, :, None, j] for j in range(k)]  # [H, d_h, 1, b]


def _softmax_last(x: torch.Tensor) -> torch.Tensor:
    e = (x - x.amax(-1, keepdim=True)).exp_()
    return e.div_(e.sum(-1, keepdim=True))


def _hpd_inverse(g: torch.Tensor) -> torch.Tensor | None:
    """``g⁻¹`` ``[b, n, n]`` of Hermitian positive-definite ``g`` from its Cholesky factor
    (LAPACK ``potrf`` then ``potri``: ``g⁻¹ = L⁻ᴴ L⁻¹``, no right-hand side to copy); ``None``
    if a factorization fails numerically."""
    chol, info = torch.linalg.cholesky_ex(g)
    if bool(info.any()):
        return None
    return torch.cholesky_inverse(chol)


def _diag_of_inverse(g: torch.Tensor) -> torch.Tensor:
    r"""Real diagonal of the inverse of Hermitian positive-definite ``g`` ``[b, n, n]``, from
    its Cholesky factor (LU inverse if Cholesky fails)."""
    inv = _hpd_inverse(g)
    if inv is None:
        inv = torch.linalg.inv(g)
    return torch.diagonal(inv, dim1=-2, dim2=-1).real


def _hpd_solve(g: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """``g⁻¹ rhs`` for Hermitian positive-definite ``g`` ``[b, n, n]``: ``g⁻¹`` from the
    Cholesky factor, then one batched product (LU solve if Cholesky fails)."""
    inv = _hpd_inverse(g)
    if inv is None:
        return torch.linalg.solve(g, rhs)
    return inv @ rhs


_PREPARED: weakref.WeakKeyDictionary[StructuredPrecoderNet, tuple[tuple[object, ...],
                                                                   _Network | None]] = (
    weakref.WeakKeyDictionary())


def _prepared(net: StructuredPrecoderNet) -> _Network | None:
    """``net``'s weights arranged by :class:`_Network` (``None`` for an encoder of another
    kind), kept while ``net`` lives and its parameters and modules are unchanged: the key holds
    every parameter's identity, storage, version counter (bumped by every in-place change:
    optimizer steps, ``load_state_dict``, ``copy_``), dtype and device."""
    key = tuple((id(p), p.data_ptr(), p._version, p.dtype, p.device)
                for p in net.parameters())
    hit = _PREPARED.get(net)
    if hit is not None and hit[0] == key:
        return hit[1]
    layers = _layers(net.encoder)
    network = None if layers is None else _Network(net, layers)
    _PREPARED[net] = (key, network)
    return network


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
    network = _prepared(net)
    with torch.no_grad():
        if network is None:
            was = net.training
            net.eval()
            try:
                return net(h, theta_t, power=power, noise_var=noise_var, rho=r)[1]
            finally:
                net.train(was)
        buffers: dict[tuple[int, int, int], _Buffers] = {}
        m = cfg.num_antennas
        shared = bool((theta_t == theta_t[:1]).all()) if theta_t.shape[0] > 0 else False
        a_shared = ula(m, theta_t[0]).to(h.dtype) if shared else None  # [T, M]
        if h.shape[0] == 0:
            return h.new_zeros(0, m, cfg.num_users)
        w = h.new_empty(h.shape[0], m, cfg.num_users)
        for s in range(0, h.shape[0], chunk_size):
            c = slice(s, s + chunk_size)
            hc, rc = h[c], None if r is None else r[c]
            x, gain_raw, a_mt = _features(hc, theta_t[c], rc, a_shared, power=power,
                                          noise_var=noise_var)
            y = network(x, rc, buffers).to(h.real.dtype)  # [3 + 2T, K, b]
            # ||W||_F^2 = sum_k p_k = P_t already (softmax powers): eq. (21) is not re-applied
            _precoder(hc, y.permute(2, 1, 0), gain_raw, a_mt, shared, power=power,
                      noise_var=noise_var, out=w[c])
        return w


def _features(h: torch.Tensor, theta: torch.Tensor, rho: torch.Tensor | None,
              a_shared: torch.Tensor | None, *, power: float, noise_var: float
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Token features (:meth:`StructuredPrecoderNet.token_features`) feature-major, ``[F + 1,
    K, B]`` with a last row of ones (the bias input of the embedding), the channel gains
    ``||h_k||²`` ``[B, K]`` and the scaled steering matrix ``a/√M`` (``[M, T]`` when shared,
    else ``[B, M, T]``)."""
    b, k, m = h.shape
    t = theta.shape[-1]
    rdt = h.real.dtype
    tiny = torch.finfo(rdt).tiny
    nf = 2 + 2 * m + 3 * t + (0 if rho is None else 1)
    xf = h.real.new_empty(nf + 1, k, b)
    xf[nf] = 1.0
    gram = h @ h.mH
    gram_diag = gram.diagonal(dim1=-2, dim2=-1)
    gain_raw = gram_diag.real.clone()  # ||h_k||^2, [B, K]: the Gram matrix's diagonal
    gain = gain_raw.clamp_min(tiny)
    torch.log10(power * gain.mT / noise_var, out=xf[0]).mul_(0.5)  # snr / 2
    gram_diag.add_(k * noise_var / power)
    diag_inv = _diag_of_inverse(gram)
    torch.log10(power / (noise_var * diag_inv.mT.clamp_min(tiny)), out=xf[1]).mul_(0.5)
    # Re, Im of hn = sqrt(M) h_k / ||h_k||, written [2, M, K, B]
    torch.mul(torch.view_as_real(h).permute(3, 2, 1, 0), torch.rsqrt(gain.mT / m),
              out=xf[2:2 + 2 * m].view(2, m, k, b))
    if a_shared is not None:
        corr = (h.reshape(b * k, m) @ a_shared.mT).view(b, k, t)
        a_mt = a_shared.mT / math.sqrt(m)  # [M, T]
    else:
        a = ula(m, theta).to(h.dtype)  # [B, T, M]
        corr = h @ a.mT
        a_mt = a.mT / math.sqrt(m)  # [B, M, T]
    # |h_k a_t|^2 / (M ||h_k||^2)
    torch.div(abs_sq(corr).permute(2, 1, 0), m * gain.mT, out=xf[2 + 2 * m:2 + 2 * m + t])
    ang = torch.cat([torch.sin(theta), torch.cos(theta)], dim=-1)  # [B, 2T]
    xf[2 + 2 * m + t:2 + 2 * m + 3 * t] = ang.mT[:, None, :]
    if rho is not None:
        xf[nf - 1] = rho.to(rdt)[None, :]
    return xf, gain_raw, a_mt


def _precoder(h: torch.Tensor, y: torch.Tensor, gain_raw: torch.Tensor, a_mt: torch.Tensor,
              shared: bool, *, power: float, noise_var: float, out: torch.Tensor) -> None:
    """``w_raw`` ``[B, M, K]``, written to ``out``, from the head outputs ``y`` ``[B, K, 3 + 2T]``
    (parameters_of_form and :func:`~isaclearn.learn.precoder_nets.structured_precoder`)."""
    b, k, m = h.shape
    t = a_mt.shape[-1]
    tiny = torch.finfo(y.dtype).tiny
    kappa = torch.exp(y[..., 2].mean(-1, keepdim=True))
    lam = power * kappa * _softmax_last(y[..., 0])
    p = power * _softmax_last(y[..., 1])
    scale = torch.sqrt(gain_raw)[..., None]  # ||h_k||
    c = torch.complex(y[..., 3:3 + t] * scale, y[..., 3 + t:3 + 2 * t] * scale).to(h.dtype)
    hh = h.mH  # [B, M, K]
    g = hh @ torch.view_as_complex(torch.view_as_real(h) * lam[..., None, None])  # H^H Λ H
    g.diagonal(dim1=-2, dim2=-1).add_(noise_var)
    if shared:
        steer = (c.reshape(b * k, t) @ a_mt.mT).view(b, k, m).mT  # (a c^T)/sqrt(M), [B, M, K]
    else:
        steer = a_mt @ c.mT
    u = _hpd_solve(g, hh + steer)
    # w_k = sqrt(p_k) u_k / ||u_k||, one complex pass
    amp = torch.sqrt(p.clamp_min(tiny))[:, None, :] * torch.rsqrt(
        abs_sq(u).sum(-2, keepdim=True).clamp_min(tiny))
    torch.mul(u, amp, out=out)
