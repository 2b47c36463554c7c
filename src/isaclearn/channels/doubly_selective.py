r"""Doubly-selective wideband multi-user channel with inter-carrier interference (ICI) and the
radar echo of yang_som (``shared/papers/000_e47146536a3e5322.txt``, Sec. II, eqs. 3–5, 9, 42).

Names
-----
Letters follow ``shared/DESIGN.md``; the paper's names are given in brackets: ``M`` transmit
antennas [:math:`N_t`], ``N`` receive (radar) antennas [:math:`N_r`], ``S`` subcarriers [M],
``K`` users [U], ``P`` paths per user [:math:`P_u`], ``N_d`` delay taps, ``L_CP`` cyclic prefix,
``L`` OFDM symbols per subframe, ``T`` subframes per frame. All indices are **0-based** (the paper
counts antennas, subcarriers, symbols and subframes from 1).

Model
-----
Time-domain taps (3)–(4), user ``u``, tap ``d``, sample ``t``:

.. math::
    \tilde{\mathbf h}_{u,d}(t) = \sqrt{M/P}\sum_{p=0}^{P-1}\beta_{u,p}\,
      g_{rp}(dT_s - \tau_{u,p})\,e^{j(\phi_{u,p} + \omega_{u,p} t)}\,
      \mathbf a_t^H(\theta_{u,p}) \in \mathbb C^{1\times M},

with :math:`[\mathbf a_t(\theta)]_i = M^{-1/2}e^{-j i\pi\sin\theta}` (``isaclearn.arrays.ula``
with ``reference="first", sign=-1, normalize=True``), :math:`g_{rp}` the raised-cosine pulse
(:func:`raised_cosine`), :math:`\omega_{u,p} = 2\pi f_c|\mathbf v_u|T_s\sin\theta_{u,p}/c`
(radians per sample) and :math:`\phi_{u,p}` the Doppler phase accumulated before sample ``t = 0``.
The OFDM ICI matrix (5) of one symbol is

.. math::
    \mathbf H_m[k] = \frac1S\sum_{i=0}^{S-1}\sum_{d=0}^{N_d-1}\tilde{\mathbf H}_d(i+L_{CP})\,
      e^{-j2\pi(kd + (m-k)i)/S},

(``t`` counted from the first CP sample of the symbol), computed by :func:`ici_matrix` with two
``torch.fft.fft`` calls: a zero-padded FFT over the taps ``d`` and, after the twiddle
:math:`e^{j2\pi ki/S}`, an FFT over the samples ``i``. The received subcarrier ``m`` of one
symbol is :math:`\mathbf y_m = \sum_k \mathbf H_m[k]\mathbf x_k` (unitary FFTs, eq. 6), which a
brute-force time-domain simulation confirms to ``1e-10`` in the tests.

Layout and memory
-----------------
An ICI channel is ``[..., S, S, K, M]``: receive bin ``m``, transmit subcarrier ``k``, user,
antenna (so ``h[..., m, k, u, :]`` is the paper's :math:`\mathbf h_{m,k,u}`). One frame is
``[B, T, S, S, K, M]``: at the paper's size (``S = 32, K = 8, M = 32, T = 100``) that is
26.2 M complex numbers per instance, 210 MB in ``complex64`` (double in ``complex128``).
The channel of other symbols of a subframe differs only by the per-path phase
:math:`e^{j\omega_{u,p}l(S+L_{CP})}`; :func:`frame_ici` builds any symbol on demand.

Per-subframe evolution (42)
---------------------------
Positions (``channels.mobility``) are fixed within a subframe of duration
:math:`\Delta T = L(S+L_{CP})T_s` and follow straight lines; every subframe
:math:`\theta_{u,p} = \theta_u + \delta_{u,p}`, :math:`\tau_{u,p} = d_u/c + \epsilon_{u,p}`,
:math:`\omega_{u,p}` from the new angle, and :math:`\beta^{(n+1)} = \beta^{(n)} + \Delta\beta`,
:math:`\Delta\beta\sim\mathcal{CN}(0,\sigma_{\Delta\beta}^2)`.

Radar echo (9): :math:`\mathbf G_m = \alpha_m\mathbf a_r(\theta_s)\mathbf a_t^H(\theta_s)` with
:math:`|\alpha_m|^2 = \sigma_{RCS}(d_{ref}/d_s)^4`, a random phase per frame, flat over ``m``
(:func:`radar_response`).

Notes
-----
Readings of the paper's gaps (``shared/specs/yang_som.md`` §6):

* **Time index (§6.3).** (3) indexes symbols but (5) samples, so :math:`\omega` is per sample.
  The Doppler phase runs continuously over the frame: sample ``j`` of symbol ``l`` of subframe
  ``n`` has the phase :math:`\phi^{(n)} + \omega^{(n)}(l(S+L_{CP}) + j)` with
  :math:`\phi^{(n+1)} = \phi^{(n)} + \omega^{(n)}L(S+L_{CP})`, i.e. the global sample index
  ``t = (nL + l)(S + L_CP) + j`` of the spec whenever :math:`\omega` stays constant, and no
  phase jump where (42) changes :math:`\omega`.
* **Doppler sign (§6.4).** :math:`\sin\theta` as printed (``doppler="sin"``); option
  ``"radial"`` uses :math:`\cos(\theta-\angle\mathbf v)` (equal for a heading along ``+x``).
* **Delays and AoDs (§6.5).** (42) sets :math:`\tau = 2d/c` (a radar round trip) and one angle
  for all paths. Default ``delay_model="excess"``: :math:`\tau_{u,p} = d_u/c + \epsilon_{u,p}`
  with :math:`\epsilon_{u,0} = 0` and :math:`\epsilon_{u,p}\sim U(0, (N_d-1)T_s)` for
  ``p ≥ 1``; per-path AoD offsets :math:`\delta_{u,p}\sim U(-5°, 5°)` (``p = 0`` included);
  both fixed per frame. ``"round_trip"`` uses :math:`2d_u/c + \epsilon_{u,p}`. The pulse is
  truncated to the taps ``0..N_d-1`` as (3) prescribes.
* **Gains (§6.6).** Constant within a subframe, random walk across subframes (``"walk"``); the
  option ``"ar1"`` uses :math:`\beta' = \rho\beta + \sqrt{1-\rho^2}\,\sigma_\beta\,
  \mathcal{CN}(0,1)` with :math:`\rho = \sqrt{1-\sigma_{\Delta\beta}^2/\sigma_\beta^2}`
  (stationary variance).
* **Steering of the communication row.** (3) writes :math:`\mathbf a_t(\theta)` as a row; we use
  :math:`\mathbf a_t^H(\theta)` (``steering="conj"``), so that a user and a target at the same
  angle are both served by :math:`\mathbf x\propto\mathbf a_t(\theta)`, as the echo model
  :math:`\mathbf a_r\mathbf a_t^H` of (9) requires. ``steering="literal"`` uses the transpose.
* **Echo amplitude (§1).** The paper gives no model for :math:`\alpha_m`:
  ``echo_model="reference"`` is :math:`\sigma_{RCS}(d_{ref}/d_s)^4` with ``d_ref = 100`` m;
  ``"radar_equation"`` is :math:`\sigma_{RCS}\lambda^2/((4\pi)^3 d_s^4)`.
* Speed of light :math:`c = 3\cdot10^8` m/s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch

from isaclearn.arrays import ula
from isaclearn.channels.mobility import MobilityConfig, sample_motion, trajectory
from isaclearn.core.checks import check_count
from isaclearn.core.dtypes import complex_dtype, real_dtype
from isaclearn.core.errors import ConfigError, ShapeError

__all__ = [
    "SPEED_OF_LIGHT",
    "DoublySelectiveConfig",
    "DoublySelectiveFrame",
    "frame_ici",
    "ici_channel",
    "ici_matrix",
    "radar_response",
    "raised_cosine",
    "time_domain_taps",
]

SPEED_OF_LIGHT = 3e8
"""Speed of light in m/s."""


def raised_cosine(x: torch.Tensor, rolloff: float) -> torch.Tensor:
    r"""Raised-cosine pulse :math:`g_{rp}` at time ``x`` in sample periods (:math:`t/T_s`).

    .. math:: g(x) = \operatorname{sinc}(x)\,\frac{\cos(\pi\rho x)}{1 - (2\rho x)^2},

    with the limit :math:`\frac\pi4\operatorname{sinc}(1/(2\rho))` at :math:`|x| = 1/(2\rho)`;
    ``g(0) = 1`` and ``g(n) = 0`` at every other integer (Nyquist).

    Parameters
    ----------
    x : torch.Tensor
        ``[...]`` real, time in units of :math:`T_s`.
    rolloff : float
        :math:`\rho \in [0, 1]`.

    Returns
    -------
    torch.Tensor
        ``[...]`` real, same dtype as ``x``.

    Examples
    --------
    >>> import torch
    >>> g = raised_cosine(torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64), 0.25)
    >>> float(g[0]), bool(g[1:].abs().max() < 1e-12)
    (1.0, True)
    """
    if not (0.0 <= rolloff <= 1.0):
        raise ConfigError(f"rolloff must be in [0, 1], got {rolloff}")
    s = torch.sinc(x)
    if rolloff == 0.0:
        return s
    z = 2.0 * rolloff * x
    edge = (z.abs() - 1.0).abs() < 1e-8
    den = torch.where(edge, torch.ones_like(z), 1.0 - z * z)
    regular = s * torch.cos(math.pi * rolloff * x) / den
    limit = (math.pi / 4.0) * torch.sinc(torch.full_like(x, 1.0 / (2.0 * rolloff)))
    return torch.where(edge, limit, regular)


def _steering(aod_rad: torch.Tensor, num_antennas: int, steering: str) -> torch.Tensor:
    a = ula(num_antennas, aod_rad, reference="first", sign=-1, normalize=True)
    if steering == "conj":
        return a.conj()
    if steering == "literal":
        return a
    raise ConfigError(f"steering must be 'conj' or 'literal', got {steering!r}")


def _check_paths(*xs: torch.Tensor) -> tuple[int, ...]:
    try:
        shape = torch.broadcast_shapes(*(x.shape for x in xs))
    except RuntimeError:
        raise ShapeError("path parameters (gains, delays, doppler, phase, aod) must broadcast "
                         "to one shape [..., K, P], got "
                         + ", ".join(str(tuple(x.shape)) for x in xs)) from None
    if len(shape) < 2:
        raise ShapeError(f"path parameters must have shape [..., K, P], got {tuple(shape)}")
    return tuple(shape)


def time_domain_taps(
    gains: torch.Tensor,
    delays_s: torch.Tensor,
    doppler_rad: torch.Tensor,
    phase_rad: torch.Tensor,
    aod_rad: torch.Tensor,
    sample_index: torch.Tensor,
    *,
    num_antennas: int,
    num_taps: int,
    sample_period_s: float,
    rolloff: float = 0.25,
    steering: Literal["conj", "literal"] = "conj",
) -> torch.Tensor:
    r"""Time-domain taps :math:`\tilde{\mathbf H}_d(t)` of eqs. (3)–(4) at given samples.

    Parameters
    ----------
    gains : torch.Tensor
        ``[..., K, P]`` complex path gains :math:`\beta_{u,p}`; its dtype sets the output dtype.
    delays_s : torch.Tensor
        ``[..., K, P]`` path delays :math:`\tau_{u,p}` in seconds.
    doppler_rad : torch.Tensor
        ``[..., K, P]`` normalized Doppler :math:`\omega_{u,p}` in radians per sample.
    phase_rad : torch.Tensor
        ``[..., K, P]`` Doppler phase :math:`\phi_{u,p}` at sample index 0 (radians).
    aod_rad : torch.Tensor
        ``[..., K, P]`` angles of departure from broadside (radians).
    sample_index : torch.Tensor
        ``[J]`` sample indices ``t`` (relative to the reference of ``phase_rad``).
    num_antennas : int
        ``M`` [:math:`N_t`].
    num_taps : int
        :math:`N_d`.
    sample_period_s : float
        :math:`T_s = 1/(S\Delta f)` in seconds.
    rolloff : float
        Raised-cosine roll-off.
    steering : {"conj", "literal"}
        Row :math:`\mathbf a_t^H` (default) or :math:`\mathbf a_t^T` (see the module Notes).

    Returns
    -------
    torch.Tensor
        ``[..., J, N_d, K, M]`` complex: ``out[..., j, d, u, :]`` is
        :math:`\tilde{\mathbf h}_{u,d}(t_j)`.
    """
    check_count(num_antennas, "num_antennas")
    check_count(num_taps, "num_taps")
    shape = _check_paths(gains, delays_s, doppler_rad, phase_rad, aod_rad)
    if sample_index.dim() != 1:
        raise ShapeError(f"sample_index must have shape [J], got {tuple(sample_index.shape)}")
    cdt = gains.dtype if gains.is_complex() else complex_dtype(gains.dtype)
    # Phases and pulse samples in float64 (the accumulated Doppler phase reaches 1e3 rad).
    f64 = torch.float64
    num_paths = shape[-1]
    tap = torch.arange(num_taps, dtype=f64, device=gains.device)
    lag = tap[:, None, None] - (delays_s.to(f64) / sample_period_s)[..., None, :, :]
    pulse = raised_cosine(lag, rolloff)  # [..., N_d, K, P]
    t = sample_index.to(f64)
    ph = (phase_rad.to(f64)[..., None, :, :]
          + doppler_rad.to(f64)[..., None, :, :] * t[:, None, None])
    rot = torch.polar(torch.ones_like(ph), torch.remainder(ph, 2.0 * math.pi))  # [..., J, K, P]
    coef = (rot[..., :, None, :, :] * pulse[..., None, :, :, :]).to(cdt)  # [..., J, N_d, K, P]
    coef = coef * (gains.to(cdt) * math.sqrt(num_antennas / num_paths))[..., None, None, :, :]
    a = _steering(aod_rad.to(f64), num_antennas, steering).to(cdt)  # [..., K, P, M]
    return torch.einsum("...jdkp,...kpm->...jdkm", coef, a)


def ici_matrix(taps: torch.Tensor) -> torch.Tensor:
    r"""OFDM ICI matrices (5) from the time-domain taps after the cyclic prefix.

    Parameters
    ----------
    taps : torch.Tensor
        ``[..., S, N_d, K, M]`` complex, ``taps[..., i, d]`` :math:`=\tilde{\mathbf H}_d(i+L_{CP})`
        for the ``S`` samples ``i = 0..S-1`` that survive CP removal (``N_d ≤ S``).

    Returns
    -------
    torch.Tensor
        ``[..., S, S, K, M]``: ``out[..., m, k]`` :math:`=\mathbf H_m[k]`, so that the received
        subcarrier ``m`` is :math:`\sum_k\mathbf H_m[k]\mathbf x_k` (unitary DFTs).

    Examples
    --------
    >>> import torch
    >>> taps = torch.zeros(4, 2, 1, 1, dtype=torch.complex128)
    >>> taps[:, 0] = 1.0  # a static single tap: no ICI, H_m[m] = 1
    >>> h = ici_matrix(taps)[..., 0, 0]
    >>> torch.allclose(h, torch.eye(4, dtype=h.dtype))
    True
    """
    if taps.dim() < 4:
        raise ShapeError(f"taps must have shape [..., S, N_d, K, M], got {tuple(taps.shape)}")
    if not taps.is_complex():
        raise ShapeError(f"taps must be complex, got dtype {taps.dtype}")
    s, nd = taps.shape[-4], taps.shape[-3]
    if nd > s:
        raise ShapeError(f"need N_d <= S for (5), got N_d = {nd}, S = {s}")
    rdt = real_dtype(taps.dtype)
    # Z[i, k] = sum_d H_d(i) e^{-j 2 pi k d / S}: zero-padded FFT over the taps.
    z = torch.fft.fft(taps, n=s, dim=-3)  # [..., S(i), S(k), K, M]
    idx = torch.arange(s, dtype=rdt, device=taps.device)
    twiddle = torch.polar(torch.ones(s, s, dtype=rdt, device=taps.device),
                          2.0 * math.pi * torch.remainder(idx[:, None] * idx[None, :], s) / s)
    # e^{+j 2 pi k i / S} / S, in place (the two FFT outputs are the only frame-size buffers)
    z.mul_((twiddle / s).to(taps.dtype)[:, :, None, None])
    # H_m[k] = (1/S) sum_i Z[i, k] e^{j 2 pi k i/S} e^{-j 2 pi m i / S}: FFT over i -> m.
    return torch.fft.fft(z, dim=-4)


def ici_channel(
    gains: torch.Tensor,
    delays_s: torch.Tensor,
    doppler_rad: torch.Tensor,
    phase_rad: torch.Tensor,
    aod_rad: torch.Tensor,
    *,
    num_antennas: int,
    num_subcarriers: int,
    num_taps: int,
    cp_len: int,
    sample_period_s: float,
    rolloff: float = 0.25,
    steering: Literal["conj", "literal"] = "conj",
) -> torch.Tensor:
    r"""ICI channel (5) of one OFDM symbol from path parameters (3).

    ``phase_rad`` is the Doppler phase at the symbol's first CP sample; the taps are evaluated at
    the samples ``L_CP .. L_CP + S - 1`` (:func:`time_domain_taps`) and transformed by
    :func:`ici_matrix`. Arguments as in :func:`time_domain_taps`; ``num_subcarriers`` is ``S``
    [M], ``cp_len`` is :math:`L_{CP}`.

    Returns
    -------
    torch.Tensor
        ``[..., S, S, K, M]`` complex (dtype of ``gains``).
    """
    check_count(num_subcarriers, "num_subcarriers")
    if isinstance(cp_len, bool) or int(cp_len) != cp_len or cp_len < 0:
        raise ConfigError(f"cp_len must be an integer >= 0, got {cp_len!r}")
    idx = torch.arange(cp_len, cp_len + num_subcarriers, device=gains.device)
    taps = time_domain_taps(gains, delays_s, doppler_rad, phase_rad, aod_rad, idx,
                            num_antennas=num_antennas, num_taps=num_taps,
                            sample_period_s=sample_period_s, rolloff=rolloff, steering=steering)
    return ici_matrix(taps)


def radar_response(
    alpha: torch.Tensor,
    theta_rad: torch.Tensor,
    *,
    num_antennas: int,
    num_rx: int,
) -> torch.Tensor:
    r"""Target response (9) :math:`\mathbf G = \alpha\,\mathbf a_r(\theta)\mathbf a_t^H(\theta)`.

    Both arrays use the first-element reference, phase sign ``-1`` and unit norm.

    Parameters
    ----------
    alpha : torch.Tensor
        ``[...]`` complex reflection coefficients :math:`\alpha_m`.
    theta_rad : torch.Tensor
        ``[...]`` target angle from broadside (radians), broadcastable against ``alpha``.
    num_antennas, num_rx : int
        ``M`` [:math:`N_t`] and ``N`` [:math:`N_r`].

    Returns
    -------
    torch.Tensor
        ``[..., N, M]`` complex (dtype of ``alpha``, promoted to complex).
    """
    check_count(num_antennas, "num_antennas")
    check_count(num_rx, "num_rx")
    cdt = alpha.dtype if alpha.is_complex() else complex_dtype(alpha.dtype)
    th = theta_rad.to(real_dtype(cdt))
    a_t = ula(num_antennas, th, reference="first", sign=-1, normalize=True).to(cdt)
    a_r = ula(num_rx, th, reference="first", sign=-1, normalize=True).to(cdt)
    return alpha.to(cdt)[..., None, None] * a_r[..., :, None] * a_t.conj()[..., None, :]


@dataclass
class DoublySelectiveFrame:
    """One frame (``T`` subframes) of the yang_som scene, batched over ``B``.

    Tensors of path parameters are ``[B, T, K, P]``; per-object quantities ``[B, T, K]``
    (users) or ``[B, T]`` (target) give the value during subframe ``n`` (0-based).

    Attributes
    ----------
    h : torch.Tensor or None
        ``[B, T, S, S, K, M]`` complex ICI channels (5) of symbol ``config.channel_symbol`` of
        each subframe (see :func:`frame_ici` for other symbols and for subframes on demand);
        ``None`` when sampled with ``materialize=False``.
    gains : torch.Tensor
        ``[B, T, K, P]`` complex path gains :math:`\\beta`.
    delays_s, doppler_rad, phase_rad, aod_rad : torch.Tensor
        ``[B, T, K, P]`` real: delays (s), Doppler (rad/sample), Doppler phase at the first
        sample of the subframe (rad), angles of departure (rad).
    user_theta_rad, user_distance_m : torch.Tensor
        ``[B, T, K]`` user positions.
    user_speed_mps, user_heading_rad : torch.Tensor
        ``[B, K]`` constant user velocities.
    target_theta_rad, target_distance_m : torch.Tensor
        ``[B, T]`` target position.
    target_speed_mps, target_heading_rad : torch.Tensor
        ``[B]`` constant target velocity.
    alpha : torch.Tensor
        ``[B, T]`` complex echo coefficient :math:`\\alpha_m` (flat over subcarriers).
    """

    h: torch.Tensor | None
    gains: torch.Tensor
    delays_s: torch.Tensor
    doppler_rad: torch.Tensor
    phase_rad: torch.Tensor
    aod_rad: torch.Tensor
    user_theta_rad: torch.Tensor
    user_distance_m: torch.Tensor
    user_speed_mps: torch.Tensor
    user_heading_rad: torch.Tensor
    target_theta_rad: torch.Tensor
    target_distance_m: torch.Tensor
    target_speed_mps: torch.Tensor
    target_heading_rad: torch.Tensor
    alpha: torch.Tensor


def _positive(value: float, name: str) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be positive and finite, got {value}")


@dataclass(frozen=True)
class DoublySelectiveConfig:
    """Parameters of the doubly-selective ISAC scene (Tables II/III of yang_som, spec §1).

    Paper names in brackets; all indices 0-based.
    """

    num_antennas: int = 32
    """``M`` transmit antennas [:math:`N_t`]."""
    num_rx: int = 32
    """``N`` radar receive antennas [:math:`N_r`]."""
    num_subcarriers: int = 32
    """``S`` subcarriers [M]."""
    num_users: int = 8
    """``K`` users [U]."""
    max_users: int = 16
    """Pad size :math:`U^{max}` (observations and actions of the environment)."""
    carrier_hz: float = 28e9
    """Carrier :math:`f_c` (Hz)."""
    subcarrier_spacing_hz: float = 30e3
    """:math:`\\Delta f` (Hz)."""
    num_taps: int = 8
    """Delay taps :math:`N_d`."""
    num_paths: int = 8
    """Paths per user ``P`` [:math:`P_u`]."""
    cp_len: int = 8
    """Cyclic prefix :math:`L_{CP}` (samples)."""
    num_symbols: int = 32
    """OFDM symbols per subframe ``L``."""
    num_subframes: int = 100
    """Subframes per frame ``T``."""
    gain_std: float = 1.0
    """:math:`\\sigma_\\beta`: path gains :math:`\\beta\\sim\\mathcal{CN}(0, \\sigma_\\beta^2)`."""
    gain_walk_std: float = 0.05
    """:math:`\\sigma_{\\Delta\\beta}` of the per-subframe gain change (42)."""
    gain_model: Literal["walk", "ar1"] = "walk"
    """Gain evolution: random walk (42) or variance-preserving AR(1)."""
    rolloff: float = 0.25
    """Raised-cosine roll-off of :math:`g_{rp}`."""
    aod_spread_deg: float = 5.0
    """Per-path AoD offsets :math:`\\delta_{u,p}\\sim U(-s, s)` (degrees)."""
    delay_model: Literal["excess", "round_trip"] = "excess"
    """:math:`\\tau = d/c + \\epsilon` (default) or :math:`2d/c + \\epsilon` ((42) literally)."""
    doppler_model: Literal["sin", "radial"] = "sin"
    """Doppler with :math:`\\sin\\theta` (3) or the radial speed
    :math:`\\cos(\\theta-\\angle v)`."""
    steering: Literal["conj", "literal"] = "conj"
    """Communication row :math:`\\mathbf a_t^H` (default) or :math:`\\mathbf a_t^T`."""
    rcs: float = 10.0
    """:math:`\\sigma_{RCS}` (Table II)."""
    reference_distance_m: float = 100.0
    """:math:`d_{ref}` of the echo model."""
    echo_model: Literal["reference", "radar_equation"] = "reference"
    """:math:`|\\alpha|^2 = \\sigma_{RCS}(d_{ref}/d)^4` or the radar equation."""
    channel_symbol: int = 0
    """Symbol ``l`` of each subframe whose ICI channel :meth:`sample` materializes."""
    user_mobility: MobilityConfig = field(default_factory=MobilityConfig)
    """Initial positions and velocities of the users."""
    target_mobility: MobilityConfig = field(default_factory=MobilityConfig)
    """Initial position and velocity of the target."""

    def __post_init__(self) -> None:
        for name in ("num_antennas", "num_rx", "num_subcarriers", "num_users", "max_users",
                     "num_taps", "num_paths", "num_symbols", "num_subframes"):
            check_count(getattr(self, name), name)
        if self.num_users > self.max_users:
            raise ConfigError(f"num_users ({self.num_users}) exceeds max_users "
                              f"({self.max_users})")
        if self.num_taps > self.num_subcarriers:
            raise ConfigError(f"num_taps ({self.num_taps}) must not exceed num_subcarriers "
                              f"({self.num_subcarriers})")
        if isinstance(self.cp_len, bool) or int(self.cp_len) != self.cp_len or self.cp_len < 0:
            raise ConfigError(f"cp_len must be an integer >= 0, got {self.cp_len!r}")
        if not (0 <= self.channel_symbol < self.num_symbols):
            raise ConfigError(f"channel_symbol must be in [0, {self.num_symbols}), got "
                              f"{self.channel_symbol}")
        for name in ("carrier_hz", "subcarrier_spacing_hz", "gain_std", "rcs",
                     "reference_distance_m"):
            _positive(getattr(self, name), name)
        if not (0.0 <= self.gain_walk_std < float("inf")):
            raise ConfigError(f"gain_walk_std must be >= 0, got {self.gain_walk_std}")
        if self.gain_model == "ar1" and self.gain_walk_std > self.gain_std:
            raise ConfigError("gain_model='ar1' needs gain_walk_std <= gain_std")
        if not (0.0 <= self.rolloff <= 1.0):
            raise ConfigError(f"rolloff must be in [0, 1], got {self.rolloff}")
        if not (0.0 <= self.aod_spread_deg <= 90.0):
            raise ConfigError(f"aod_spread_deg must be in [0, 90], got {self.aod_spread_deg}")
        choices = {"gain_model": ("walk", "ar1"), "delay_model": ("excess", "round_trip"),
                   "doppler_model": ("sin", "radial"), "steering": ("conj", "literal"),
                   "echo_model": ("reference", "radar_equation")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {allowed}, got "
                                  f"{getattr(self, name)!r}")

    @property
    def sample_period_s(self) -> float:
        """:math:`T_s = 1/(S\\Delta f)` in seconds."""
        return 1.0 / (self.num_subcarriers * self.subcarrier_spacing_hz)

    @property
    def symbol_samples(self) -> int:
        """Samples per OFDM symbol including the CP, :math:`S + L_{CP}`."""
        return self.num_subcarriers + self.cp_len

    @property
    def subframe_s(self) -> float:
        """Subframe duration :math:`\\Delta T = L(S+L_{CP})T_s` in seconds."""
        return self.num_symbols * self.symbol_samples * self.sample_period_s

    def doppler(self, theta_rad: torch.Tensor, speed_mps: torch.Tensor,
                heading_rad: torch.Tensor) -> torch.Tensor:
        """Normalized Doppler :math:`\\omega = 2\\pi f_c v T_s/c` (rad/sample) of (3)/(42)."""
        if self.doppler_model == "sin":
            v = speed_mps * torch.sin(theta_rad)
        else:
            v = speed_mps * torch.cos(theta_rad - heading_rad)
        return 2.0 * math.pi * self.carrier_hz * v * self.sample_period_s / SPEED_OF_LIGHT

    def echo_power(self, distance_m: torch.Tensor) -> torch.Tensor:
        """:math:`|\\alpha|^2` of the target at ``distance_m`` (linear)."""
        if self.echo_model == "reference":
            return self.rcs * (self.reference_distance_m / distance_m) ** 4
        lam = SPEED_OF_LIGHT / self.carrier_hz
        return self.rcs * lam**2 / ((4.0 * math.pi) ** 3 * distance_m**4)

    def sample(
        self,
        batch_size: int,
        *,
        generator: torch.Generator | None,
        dtype: torch.dtype = torch.complex64,
        device: torch.device | str | None = None,
        materialize: bool = True,
    ) -> DoublySelectiveFrame:
        """Draw ``batch_size`` independent frames.

        Randomness is drawn in float64 in a fixed order (user motion, target motion, AoD
        offsets, excess delays, initial gains, gain steps, echo phase), so the same generator
        state gives the same frame; ``complex64`` and ``complex128`` frames of one seed agree to
        rounding.

        Parameters
        ----------
        batch_size : int
            ``B``.
        generator : torch.Generator or None
            Source of randomness.
        dtype : torch.dtype
            ``complex64`` (default) or ``complex128`` for the complex outputs.
        device : torch.device or str, optional
            Defaults to the generator's device.
        materialize : bool
            Build ``h`` for the whole frame (210 MB per instance in ``complex64`` at the paper's
            size). ``False`` keeps only the path parameters (a few kB per instance), e.g. for
            an environment that builds one subframe per step with :func:`frame_ici`.

        Returns
        -------
        DoublySelectiveFrame
        """
        check_count(batch_size, "batch_size")
        if dtype not in (torch.complex64, torch.complex128):
            raise ConfigError(f"dtype must be complex64 or complex128, got {dtype}")
        if device is None and generator is not None:
            device = generator.device
        f64 = torch.float64
        b, k, p, t = int(batch_size), self.num_users, self.num_paths, self.num_subframes
        dt = self.subframe_s
        th0, d0, v, hd = sample_motion(self.user_mobility, (b, k), generator=generator,
                                       dtype=f64, device=device)
        th_u, d_u = trajectory(th0, d0, v, hd, num_steps=t, dt_s=dt)  # [B, K, T]
        th_u, d_u = th_u.transpose(1, 2), d_u.transpose(1, 2)  # [B, T, K]
        s0, sd0, sv, shd = sample_motion(self.target_mobility, (b,), generator=generator,
                                         dtype=f64, device=device)
        th_s, d_s = trajectory(s0, sd0, sv, shd, num_steps=t, dt_s=dt)  # [B, T]
        spread = self.aod_spread_deg * math.pi / 180.0
        delta = (2.0 * torch.rand((b, k, p), generator=generator, dtype=f64, device=device)
                 - 1.0) * spread
        excess = torch.rand((b, k, p), generator=generator, dtype=f64, device=device)
        excess = excess * (self.num_taps - 1) * self.sample_period_s
        excess[..., 0] = 0.0
        g0 = self.gain_std * _cn((b, k, p), generator, device)
        steps = _cn((b, t - 1, k, p), generator, device)
        if self.gain_model == "walk":
            gains = torch.cat([g0[:, None], g0[:, None] + torch.cumsum(
                self.gain_walk_std * steps, dim=1)], dim=1)
        else:
            rho = math.sqrt(1.0 - (self.gain_walk_std / self.gain_std) ** 2)
            innov = math.sqrt(1.0 - rho * rho) * self.gain_std * steps
            seq = [g0]
            for n in range(t - 1):  # a T-step recursion, vectorized over B, K, P
                seq.append(rho * seq[-1] + innov[:, n])
            gains = torch.stack(seq, dim=1)
        echo_phase = 2.0 * math.pi * torch.rand((b,), generator=generator, dtype=f64,
                                                device=device)
        aod = th_u[..., None] + delta[:, None]  # [B, T, K, P]
        bulk = d_u / SPEED_OF_LIGHT if self.delay_model == "excess" else 2.0 * d_u / SPEED_OF_LIGHT
        delays = bulk[..., None] + excess[:, None]
        omega = self.doppler(aod, v[:, None, :, None], hd[:, None, :, None])
        per_sub = omega * (self.num_symbols * self.symbol_samples)
        phase = torch.cumsum(per_sub, dim=1) - per_sub  # phase at each subframe's first sample
        alpha = torch.polar(torch.sqrt(self.echo_power(d_s)), echo_phase[:, None].expand(b, t))
        frame = DoublySelectiveFrame(
            h=None, gains=gains.to(dtype), delays_s=delays, doppler_rad=omega,
            phase_rad=phase, aod_rad=aod, user_theta_rad=th_u, user_distance_m=d_u,
            user_speed_mps=v, user_heading_rad=hd, target_theta_rad=th_s,
            target_distance_m=d_s, target_speed_mps=sv, target_heading_rad=shd,
            alpha=alpha.to(dtype))
        if materialize:
            frame.h = frame_ici(frame, self, symbol=self.channel_symbol)
        return frame


def _cn(shape: tuple[int, ...], generator: torch.Generator | None,
        device: torch.device | str | None) -> torch.Tensor:
    """CN(0, 1) samples in complex128."""
    re = torch.randn(shape, generator=generator, dtype=torch.float64, device=device)
    im = torch.randn(shape, generator=generator, dtype=torch.float64, device=device)
    return torch.complex(re, im) * math.sqrt(0.5)


def frame_ici(
    frame: DoublySelectiveFrame,
    config: DoublySelectiveConfig,
    *,
    symbol: int = 0,
    subframes: slice | torch.Tensor | None = None,
) -> torch.Tensor:
    """ICI channels (5) of symbol ``symbol`` (0-based) of every (or selected) subframe.

    Parameters
    ----------
    frame : DoublySelectiveFrame
        A frame from :meth:`DoublySelectiveConfig.sample`.
    config : DoublySelectiveConfig
        The configuration that drew it.
    symbol : int
        Symbol index ``l`` in ``[0, L)``; its Doppler phase is
        :math:`\\phi^{(n)} + \\omega^{(n)} l (S + L_{CP})`.
    subframes : slice or index tensor, optional
        Subframes to build (all by default).

    Returns
    -------
    torch.Tensor
        ``[B, T', S, S, K, M]`` complex, dtype of ``frame.gains``.
    """
    if not (0 <= symbol < config.num_symbols):
        raise ConfigError(f"symbol must be in [0, {config.num_symbols}), got {symbol}")
    sel = slice(None) if subframes is None else subframes
    phase = frame.phase_rad[:, sel] + frame.doppler_rad[:, sel] * (symbol * config.symbol_samples)
    return ici_channel(frame.gains[:, sel], frame.delays_s[:, sel], frame.doppler_rad[:, sel],
                       phase, frame.aod_rad[:, sel], num_antennas=config.num_antennas,
                       num_subcarriers=config.num_subcarriers, num_taps=config.num_taps,
                       cp_len=config.cp_len, sample_period_s=config.sample_period_s,
                       rolloff=config.rolloff, steering=config.steering)
