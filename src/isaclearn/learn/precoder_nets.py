r"""Neural precoders for the downlink ISAC problem (temiz_unsup, ``shared/papers/003_...txt``).

Two families, both ``nn.Module``\ s with the same call
``net(h, theta, power=, noise_var=, rho=) -> (w_raw, w)``:

* :class:`EntrywisePrecoderNet` — the paper's network (section III-B, Fig. 2): the real and
  imaginary parts of the flattened channel and the target angles (``2MK + T`` inputs) go through a
  fully connected SiLU network with dropout; its ``2MK`` outputs are the real and imaginary parts
  of :math:`\hat{\mathbf W}`, which eq. (21) scales to the power budget.
* :class:`StructuredPrecoderNet` — beyond the paper: the network emits only the few parameters of
  a known-good precoder form, so that every output is a well-formed precoder,

  .. math::
     \mathbf w_k = \sqrt{p_k}\,\frac{\mathbf u_k}{\|\mathbf u_k\|},\qquad
     \mathbf u_k = \Big(\sigma^2\mathbf I_M + \sum_{i=1}^K \lambda_i\,\mathbf h_i^H\mathbf h_i
       \Big)^{-1}\Big(\mathbf h_k^H + \sum_{t=1}^T c_{k,t}\,\frac{\mathbf a(\theta_t)}{\sqrt M}
       \Big),

  with uplink (dual) powers :math:`\lambda_i \ge 0` of total :math:`\kappa P_t`, downlink powers
  :math:`p_k \ge 0,\ \sum_k p_k = P_t` and complex sensing weights :math:`c_{k,t}` (in units of
  :math:`\|\mathbf h_k\|`) that add the target directions to user ``k``'s stream *before* the
  interference-suppressing inverse, so that the extra energy sent towards the targets is steered
  away from the other users as far as the array allows. Then
  :math:`\|\mathbf W\|_F^2 = P_t` already (eq. 21 changes nothing). For ``c = 0`` and
  :math:`\kappa = 1` this is the structure of every sum-rate optimal MISO downlink precoder
  (Björnson, Bengtsson, Ottersten, IEEE Signal Process. Mag. 2014), so the communication optimum
  (``ρ = 1``) is representable; for :math:`\kappa \to 0` and large ``c`` the columns approach the
  span of the target steering vectors, where the minimum of the approximate sum CRB (eq. 22)
  lies (a component orthogonal to that span only wastes power), so the sensing optimum
  (``ρ = 0``) is approached too. The output layer is initialized to zero: the network starts at
  :math:`\lambda_k = p_k = P_t/K`, ``c = 0``, i.e. regularized zero forcing with equal power per
  user.

  The parameters come from a user-permutation-equivariant Transformer encoder over one token
  per user (:math:`\kappa` is read from the mean over the users' outputs), whose features are
  invariant to a common phase of the channel: the user's SNR
  :math:`\log_{10}(P_t\|\mathbf h_k\|^2/\sigma^2)`, its regularized zero-forcing gain
  :math:`\log_{10}\big(P_t/(\sigma^2 [(\mathbf H\mathbf H^H + K\sigma^2/P_t\,\mathbf I)^{-1}]_{kk})
  \big)`, its normalized channel :math:`\sqrt M\,\mathbf h_k/\|\mathbf h_k\|` (real and imaginary
  parts, so attention can form inner products between users), its alignment
  :math:`|\mathbf h_k\mathbf a(\theta_t)|^2/(M\|\mathbf h_k\|^2)` with each target, the targets'
  :math:`\sin\theta_t, \cos\theta_t` and, when conditioned, ``ρ`` (which is also fed to the
  output layer directly).

Both can be conditioned on the trade-off weight ``ρ`` (an extra input), the issue's variant (a).

Notes
-----
``h`` holds the channels as rows (``[B, K, M]``); ``w`` the beamformers as columns
(``[B, M, K]``), as in :mod:`isaclearn.metrics`. Angles are in radians; the entry-wise network is
fed :math:`\theta / (\pi/2)` so that its inputs are of order one (the paper does not state its
angle scaling).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import nn
from torch.nn import functional as F

from isaclearn.arrays import ula
from isaclearn.core.checks import check_last_dims
from isaclearn.core.errors import ConfigError, ShapeError
from isaclearn.core.linalg import abs_sq, eye_like, herm, scale_to_power

NetKind = Literal["entrywise", "structured"]


@dataclass(frozen=True)
class NetConfig:
    """Architecture of a neural precoder (stored in every checkpoint's sidecar).

    Attributes
    ----------
    kind : {"entrywise", "structured"}
        The paper's network or the structured one (see module docstring).
    num_antennas : int
        Transmit antennas ``M``.
    num_users : int
        Users ``K``.
    num_targets : int
        Targets ``T``.
    hidden : tuple of int
        Widths of the hidden layers of the entry-wise network (paper: 4 × 128, Table 1).
    dropout : float
        Dropout probability after every hidden layer (paper: 10 %, Table 2).
    rho_conditioned : bool
        Whether ``ρ`` is an input (one network for every trade-off weight).
    d_model : int
        Token width of the structured network's Transformer encoder.
    num_layers : int
        Encoder layers of the structured network.
    num_heads : int
        Attention heads of the structured network.
    """

    kind: NetKind = "entrywise"
    num_antennas: int = 10
    num_users: int = 10
    num_targets: int = 2
    hidden: tuple[int, ...] = (128, 128, 128, 128)
    dropout: float = 0.1
    rho_conditioned: bool = False
    d_model: int = 32
    num_layers: int = 2
    num_heads: int = 4

    def __post_init__(self) -> None:
        if self.kind not in ("entrywise", "structured"):
            raise ConfigError(f"kind must be 'entrywise' or 'structured', got {self.kind!r}")
        for name in ("num_antennas", "num_users", "num_targets"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        object.__setattr__(self, "hidden", tuple(int(x) for x in self.hidden))
        if any(x < 1 for x in self.hidden):
            raise ConfigError(f"hidden widths must be >= 1, got {self.hidden}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.kind == "structured" and self.d_model % self.num_heads != 0:
            raise ConfigError(
                f"d_model ({self.d_model}) must be divisible by num_heads ({self.num_heads})"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable dict (tuples become lists)."""
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NetConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ConfigError`."""
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown NetConfig keys: {', '.join(sorted(unknown))}")
        d = dict(d)
        if "hidden" in d:
            d["hidden"] = tuple(d["hidden"])
        return cls(**d)


def _check_inputs(
    h: torch.Tensor, theta: torch.Tensor, cfg: NetConfig, rho: torch.Tensor | float | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    check_last_dims(h, (cfg.num_users, cfg.num_antennas), "h", "[B, K, M]")
    if h.dim() != 3 or not h.is_complex():
        raise ShapeError(f"h must be complex with shape [B, K, M], got {tuple(h.shape)}")
    b = h.shape[0]
    if theta.dim() == 1:
        theta = theta.expand(b, -1)
    if tuple(theta.shape) != (b, cfg.num_targets):
        raise ShapeError(
            f"theta must have shape [B, T] = {(b, cfg.num_targets)}, got {tuple(theta.shape)}"
        )
    r: torch.Tensor | None = None
    if cfg.rho_conditioned:
        if rho is None:
            raise ConfigError("this network is conditioned on rho; pass rho=")
        r = torch.as_tensor(rho, dtype=h.real.dtype, device=h.device)
        r = r.expand(b) if r.dim() == 0 else r
        if tuple(r.shape) != (b,):
            raise ShapeError(
                f"rho must be a scalar or have shape [B] = ({b},), got {tuple(r.shape)}"
            )
    return theta.to(h.real.dtype), r


def paper_features(
    h: torch.Tensor, theta: torch.Tensor, rho: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Input vector :math:`\mathbf u` of the paper's network (section III-B).

    Parameters
    ----------
    h : torch.Tensor
        Channel estimate ``[B, K, M]`` complex.
    theta : torch.Tensor
        Target angles ``[B, T]`` in radians.
    rho : torch.Tensor or None
        ``[B]`` trade-off weights, appended when the network is conditioned on ``ρ``.

    Returns
    -------
    torch.Tensor
        ``[B, 2MK + T (+1)]`` real: ``Re vec(H)``, ``Im vec(H)`` (row-major), ``θ/(π/2)``
        and ``ρ``.
    """
    b = h.shape[0]
    flat = h.reshape(b, -1)
    parts = [flat.real, flat.imag, theta.to(flat.real.dtype) / (math.pi / 2)]
    if rho is not None:
        parts.append(rho.to(flat.real.dtype)[:, None])
    return torch.cat(parts, dim=-1)


def build_mlp(sizes: list[int], dropout: float) -> nn.Sequential:
    """``Linear → SiLU → Dropout`` for every hidden layer, then a final ``Linear``.

    ``sizes = [in, h_1, ..., h_n, out]``. Dropout layers are present even at ``p = 0`` so that
    every network of a family has the same module layout.
    """
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 2):
        layers += [nn.Linear(sizes[i], sizes[i + 1]), nn.SiLU(), nn.Dropout(dropout)]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


class PrecoderNet(nn.Module):
    """Common base: holds the :class:`NetConfig`; subclasses implement :meth:`raw`."""

    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        self.config = config

    def raw(
        self,
        h: torch.Tensor,
        theta: torch.Tensor,
        *,
        power: float,
        noise_var: float,
        rho: torch.Tensor | None,
    ) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(
        self,
        h: torch.Tensor,
        theta: torch.Tensor,
        *,
        power: float = 1.0,
        noise_var: float = 1e-2,
        rho: torch.Tensor | float | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Precoder for each instance.

        Parameters
        ----------
        h : torch.Tensor
            Channel estimate ``[B, K, M]`` complex (rows are users).
        theta : torch.Tensor
            Target angles ``[B, T]`` or ``[T]``, radians.
        power : float
            Power budget :math:`P_t` in watts.
        noise_var : float
            User noise variance :math:`\sigma^2` in watts (used by the structured network only).
        rho : float or torch.Tensor or None
            Trade-off weight(s), scalar or ``[B]``; required iff ``rho_conditioned``.

        Returns
        -------
        w_raw : torch.Tensor
            :math:`\hat{\mathbf W}` ``[B, M, K]`` before power scaling (what eq. 20's penalty sees).
        w : torch.Tensor
            ``[B, M, K]`` scaled to :math:`\|\mathbf W\|_F^2 = P_t` (eq. 21).
        """
        theta_t, r = _check_inputs(h, theta, self.config, rho)
        w_raw = self.raw(h, theta_t, power=power, noise_var=noise_var, rho=r)
        return w_raw, scale_to_power(w_raw, power)


class EntrywisePrecoderNet(PrecoderNet):
    """The paper's fully connected network (temiz_unsup section III-B, Fig. 2, Tables 1–2).

    Examples
    --------
    >>> import torch
    >>> net = EntrywisePrecoderNet(NetConfig(num_antennas=4, num_users=2, hidden=(16,)))
    >>> h = torch.randn(3, 2, 4, dtype=torch.complex64)
    >>> w_raw, w = net(h, torch.zeros(3, 2))
    >>> w.shape
    torch.Size([3, 4, 2])
    """

    def __init__(self, config: NetConfig) -> None:
        if config.kind != "entrywise":
            raise ConfigError(f"EntrywisePrecoderNet needs kind='entrywise', got {config.kind!r}")
        super().__init__(config)
        m, k, t = config.num_antennas, config.num_users, config.num_targets
        n_in = 2 * m * k + t + (1 if config.rho_conditioned else 0)
        self.mlp = build_mlp([n_in, *config.hidden, 2 * m * k], config.dropout)

    def raw(
        self,
        h: torch.Tensor,
        theta: torch.Tensor,
        *,
        power: float,
        noise_var: float,
        rho: torch.Tensor | None,
    ) -> torch.Tensor:
        first = self.mlp[0]
        assert isinstance(first, nn.Linear)
        u = paper_features(h, theta, rho).to(first.weight.dtype)
        return self.z_to_w(self.mlp(u), h.dtype)

    def z_to_w(self, z: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Map the real output ``[B, 2MK]`` to :math:`\\hat{\\mathbf W}` ``[B, M, K]``."""
        m, k = self.config.num_antennas, self.config.num_users
        mk = m * k
        w = torch.complex(z[:, :mk], z[:, mk:]).to(dtype)
        return w.reshape(-1, m, k)


class StructuredPrecoderNet(PrecoderNet):
    """Parameters of a known-good precoder form from a user-equivariant Transformer (see module
    docstring for the precoder form and the features).

    Examples
    --------
    >>> import torch
    >>> cfg = NetConfig(kind="structured", num_antennas=4, num_users=2, d_model=16, num_layers=1)
    >>> net = StructuredPrecoderNet(cfg)
    >>> h = torch.randn(3, 2, 4, dtype=torch.complex64)
    >>> w_raw, w = net(h, torch.zeros(3, 2))
    >>> w.shape
    torch.Size([3, 4, 2])
    """

    def __init__(self, config: NetConfig) -> None:
        if config.kind != "structured":
            raise ConfigError(f"StructuredPrecoderNet needs kind='structured', got {config.kind!r}")
        super().__init__(config)
        m, t = config.num_antennas, config.num_targets
        self.num_token_features = 2 + 2 * m + 3 * t + (1 if config.rho_conditioned else 0)
        self.embed = nn.Linear(self.num_token_features, config.d_model)
        layer = nn.TransformerEncoderLayer(
            d_model=config.d_model,
            nhead=config.num_heads,
            dim_feedforward=2 * config.d_model,
            dropout=config.dropout,
            activation=F.silu,
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(
            layer, num_layers=config.num_layers, enable_nested_tensor=False
        )
        self.norm = nn.LayerNorm(config.d_model)
        # Per user: logit of λ_k, logit of p_k, log κ (averaged over users), Re/Im of c_{k,t}.
        n_head_in = config.d_model + (1 if config.rho_conditioned else 0)
        self.head = nn.Linear(n_head_in, 3 + 2 * t)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def token_features(
        self,
        h: torch.Tensor,
        theta: torch.Tensor,
        *,
        power: float,
        noise_var: float,
        rho: torch.Tensor | None,
    ) -> torch.Tensor:
        """Per-user features ``[B, K, F]`` (real), see the module docstring."""
        b, k, m = h.shape
        rdt = h.real.dtype
        gain = abs_sq(h).sum(-1).clamp_min(torch.finfo(rdt).tiny)  # ||h_k||^2, [B, K]
        snr = torch.log10(power * gain / noise_var)
        gram = h @ herm(h) + (k * noise_var / power) * eye_like(h, k)
        diag_inv = torch.diagonal(torch.linalg.inv(gram), dim1=-2, dim2=-1).real
        rzf_gain = torch.log10(power / (noise_var * diag_inv.clamp_min(torch.finfo(rdt).tiny)))
        hn = h * torch.rsqrt(gain / m)[..., None]  # sqrt(M) h_k / ||h_k||
        a = ula(m, theta).to(h.dtype)  # [B, T, M]
        align = abs_sq(hn @ a.mT) / (m * m)  # |h_k a_t|^2 / (M ||h_k||^2), [B, K, T]
        ang = torch.cat([torch.sin(theta), torch.cos(theta)], dim=-1)  # [B, 2T]
        parts = [
            snr[..., None] / 2.0,
            rzf_gain[..., None] / 2.0,
            hn.real,
            hn.imag,
            align,
            ang[:, None, :].expand(b, k, -1),
        ]
        if rho is not None:
            parts.append(rho.to(rdt)[:, None, None].expand(b, k, 1))
        return torch.cat(parts, dim=-1)

    def parameters_of_form(
        self,
        h: torch.Tensor,
        theta: torch.Tensor,
        *,
        power: float,
        noise_var: float,
        rho: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(λ [B, K], p [B, K], c [B, K, T] complex)`` of the precoder form."""
        x = self.token_features(h, theta, power=power, noise_var=noise_var, rho=rho)
        e = self.embed(x.to(self.embed.weight.dtype))
        z = self.norm(self.encoder(e) if self.training else encoder_inference(self.encoder, e))
        if rho is not None:
            z = torch.cat([z, rho.to(z.dtype)[:, None, None].expand(-1, z.shape[1], 1)], -1)
        y = self.head(z).to(h.real.dtype)
        t = self.config.num_targets
        kappa = torch.exp(y[..., 2].mean(-1, keepdim=True))
        lam = power * kappa * torch.softmax(y[..., 0], dim=-1)
        p = power * torch.softmax(y[..., 1], dim=-1)
        scale = torch.sqrt(abs_sq(h).sum(-1, keepdim=True))  # ||h_k||
        c = torch.complex(y[..., 3 : 3 + t] * scale, y[..., 3 + t : 3 + 2 * t] * scale)
        return lam, p, c.to(h.dtype)

    def raw(
        self,
        h: torch.Tensor,
        theta: torch.Tensor,
        *,
        power: float,
        noise_var: float,
        rho: torch.Tensor | None,
    ) -> torch.Tensor:
        lam, p, c = self.parameters_of_form(h, theta, power=power, noise_var=noise_var, rho=rho)
        return structured_precoder(h, theta, lam, p, c, noise_var=noise_var)


def encoder_inference(encoder: nn.TransformerEncoder, x: torch.Tensor) -> torch.Tensor:
    """``encoder(x)`` in eval mode, written out with the encoder's own weights.

    Same result as the module (tested to float32 rounding) for the layers
    :class:`StructuredPrecoderNet` builds (pre-norm, SiLU, batch first, no mask), but several
    times faster on CPU for its short sequences (K tokens): PyTorch's fused attention calls a
    softmax kernel that is slow when the softmax runs over only K entries, so the softmax is
    written with elementwise operations here. Dropout is inactive, as in eval mode.
    """
    for layer in encoder.layers:
        if not isinstance(layer, nn.TransformerEncoderLayer) or not layer.norm_first:
            raise ConfigError("encoder_inference supports pre-norm TransformerEncoderLayer only")
        attn = layer.self_attn
        b, n, d = x.shape
        nh = attn.num_heads
        dh = d // nh
        y = layer.norm1(x)
        qkv = F.linear(y, attn.in_proj_weight, attn.in_proj_bias)
        q, k, v = qkv.reshape(b, n, 3, nh, dh).permute(2, 0, 3, 1, 4)  # each [B, H, N, dh]
        scores = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(dh))
        scores = (scores - scores.amax(-1, keepdim=True)).exp()
        scores = scores / scores.sum(-1, keepdim=True)
        a = (scores @ v).transpose(1, 2).reshape(b, n, d)
        x = x + attn.out_proj(a)
        x = x + layer.linear2(layer.activation(layer.linear1(layer.norm2(x))))
    if encoder.norm is not None:
        x = encoder.norm(x)
    return x


def structured_precoder(
    h: torch.Tensor,
    theta: torch.Tensor,
    lam: torch.Tensor,
    p: torch.Tensor,
    c: torch.Tensor,
    *,
    noise_var: float,
) -> torch.Tensor:
    r"""The precoder form of :class:`StructuredPrecoderNet` (see the module docstring).

    Parameters
    ----------
    h : torch.Tensor
        ``[B, K, M]`` complex channels (rows).
    theta : torch.Tensor
        ``[B, T]`` target angles, radians.
    lam : torch.Tensor
        ``[B, K]`` real, non-negative uplink (dual) powers :math:`\lambda_k`, watts.
    p : torch.Tensor
        ``[B, K]`` real, non-negative downlink powers :math:`p_k`, watts.
    c : torch.Tensor
        ``[B, K, T]`` complex sensing weights :math:`c_{k,t}`.
    noise_var : float
        :math:`\sigma^2` in watts.

    Returns
    -------
    torch.Tensor
        ``[B, M, K]`` complex with :math:`\|\mathbf w_k\|^2 = p_k`.
    """
    m = h.shape[-1]
    tiny = torch.finfo(lam.dtype).tiny
    hh = herm(h)  # [B, M, K]
    gram = noise_var * eye_like(h, m) + hh @ (lam.to(h.dtype)[..., None] * h)
    a = ula(m, theta).to(h.dtype).mT / math.sqrt(m)  # [B, M, T]
    u = torch.linalg.solve(gram, hh + a @ c.mT)  # columns u_k, [B, M, K]
    v = u * torch.rsqrt(abs_sq(u).sum(-2, keepdim=True).clamp_min(tiny))
    # p_k from a softmax can underflow to 0 (or a denormal) for a user the network switches
    # off; sqrt's derivative is infinite there and gives NaN gradients, so p is floored at the
    # smallest normal number (a change of at most 1e-19 in amplitude).
    return v * torch.sqrt(p.clamp_min(tiny)).to(h.dtype)[:, None, :]


def build_network(config: NetConfig) -> PrecoderNet:
    """The network described by ``config`` (fresh weights from torch's global generator)."""
    if config.kind == "entrywise":
        return EntrywisePrecoderNet(config)
    return StructuredPrecoderNet(config)

