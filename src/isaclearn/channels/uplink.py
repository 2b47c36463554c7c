r"""The uplink ISAC problem of qi_uplink (``shared/papers/002_44f20366b67f6561.txt``) and its
scenario.

The dual-function BS (``N_t`` transmit, ``N_r`` receive antennas) sends a sensing waveform
:math:`\mathbf S\in\mathbb C^{L\times N_t}` and receives, in the same block of ``L`` symbols, the
target echo and the uplink signals of ``K`` single-antenna users (eq. 1):

.. math::
    \mathbf Y = \mathbf S\mathbf G + \mathbf X\mathbf P\mathbf H^T + \mathbf N,

with :math:`\mathbf H=[\mathbf h_1,\dots,\mathbf h_K]\in\mathbb C^{N_r\times K}`, user powers
:math:`p_k`, noise variance :math:`\sigma_n^2`, and a target response matrix :math:`\mathbf G`
whose columns have covariance :math:`\mathbf R_T` (Remark 1).

Section V of the paper gives the statistics sampled by :class:`UplinkScenario`:

* path loss :math:`PL_{dB}=128.1+37.6\log_{10}(d\,[\mathrm{km}])`, i.e. power gain
  :math:`\xi=10^{-12.81}/d_{km}^{3.76}`, and Rayleigh fading
  :math:`\mathbf h_k=\sqrt{\xi_k}\,\bar{\mathbf h}_k`,
  :math:`\bar{\mathbf h}_k\sim\mathcal{CN}(0,\mathbf I)`;
* :math:`\mathbf R_T=\mathbf U_T\boldsymbol\Sigma_T\mathbf U_T^H` with :math:`\mathbf U_T` the
  left singular vectors of an i.i.d. Gaussian matrix and i.i.d. uniform eigenvalues;
* :math:`\mathrm{SNR}_s=P_s\xi_0/\sigma_n^2` and :math:`\mathrm{SNR}_k=p_k\xi_k/\sigma_n^2`, with
  :math:`\xi_0` the gain at the cell radius :math:`d_0`;
* imperfect CSI :math:`\mathbf H=\sqrt\beta\,\hat{\mathbf H}+\mathbf E`,
  :math:`\mathbf E\sim\mathcal{CN}(0,(1-\beta)\mathbf I)`.

Choices where the paper is unclear (all parameters of :class:`UplinkScenario`):

* **User placement** ("randomly distributed beyond the cell radius ``d_0``"): users are uniform in
  area on the annulus ``user_distance_factor[0]·d_0 ≤ d ≤ user_distance_factor[1]·d_0``
  (default ``[d_0, 2 d_0]``).
* **Communication SNR.** ``comm_snr_mode="per_user"`` (default) is the literal reading
  "all CUs have the same :math:`\mathrm{SNR}_k=\mathrm{SNR}_c`": each user's power compensates its
  path loss, :math:`p_k=\mathrm{SNR}_c\,\sigma_n^2/\xi_k`, so the placement does not affect any
  metric. ``"cell_edge"`` gives every user the power :math:`p=\mathrm{SNR}_c\,\sigma_n^2/\xi_0`
  that yields :math:`\mathrm{SNR}_c` at the cell radius; farther users are then weaker.
* **Scale of** :math:`\mathbf R_T`: eigenvalues :math:`\sigma_{t,i}=\xi_0 u_i` with
  :math:`u_i\sim\mathcal U(` ``rt_eig_range`` :math:`)` (default ``(0, 1)``), so that
  :math:`\mathrm{SNR}_s` is the sensing SNR of the strongest possible target direction.
* **Imperfect CSI** is applied to the small-scale fading, which has unit variance as the model
  requires: :math:`\bar{\mathbf H}=\sqrt\beta\,\hat{\bar{\mathbf H}}+\mathbf E` with
  :math:`\hat{\bar{\mathbf H}}\sim\mathcal{CN}(0,\mathbf I)`; the estimate the designers see is
  :math:`\hat{\mathbf h}_k=\sqrt{\xi_k}\,\hat{\bar{\mathbf h}}_k`. This joint Gaussian law
  (unit variances, correlation :math:`\sqrt\beta`, error independent of the estimate) is
  sampled as :math:`\hat{\bar{\mathbf H}}=\sqrt\beta\,\bar{\mathbf H}+\mathbf E'`,
  :math:`\mathbf E'\sim\mathcal{CN}(0,(1-\beta)\mathbf I)`, drawn after everything else, so
  that a seed gives the same true channels and :math:`\mathbf R_T` for every β (paired
  comparisons across β).
* **Noise power.** Only SNRs enter the metrics; ``noise_power_dbm`` (default −104 dBm, the
  thermal noise of 10 MHz) merely fixes the unit of every power.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch

from isaclearn.core.checks import check_finite, check_positive
from isaclearn.core.dtypes import real_dtype
from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError
from isaclearn.core.problem import BATCHED, BatchedProblem
from isaclearn.core.random import complex_normal
from isaclearn.core.units import db_to_lin

CommSnrMode = Literal["per_user", "cell_edge"]
MsMode = Literal["interference_free", "with_interference"]


def path_gain(distance_m: torch.Tensor | float) -> torch.Tensor:
    r"""Power gain of the path loss :math:`PL_{dB}=128.1+37.6\log_{10}(d\,[\mathrm{km}])`.

    Parameters
    ----------
    distance_m : torch.Tensor or float
        Distance in metres, any shape, positive.

    Returns
    -------
    torch.Tensor
        :math:`\xi = 10^{-PL_{dB}/10}` (linear, same shape), e.g. about ``6.6e-11`` at 200 m.

    Examples
    --------
    >>> float(path_gain(1000.0))  # doctest: +ELLIPSIS
    1.5488...e-13
    """
    d = torch.as_tensor(distance_m)
    if not d.is_floating_point():
        d = d.to(torch.float64)
    check_positive(d, "distance_m")
    return db_to_lin(-(128.1 + 37.6 * torch.log10(d / 1000.0)))


def random_unitary(
    batch_shape: tuple[int, ...],
    n: int,
    *,
    generator: torch.Generator | None,
    dtype: torch.dtype = torch.complex64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Haar-distributed unitary matrices ``[*batch_shape, n, n]`` (QR of a Gaussian matrix with
    the phases of ``R``'s diagonal moved into ``Q``)."""
    z = complex_normal((*batch_shape, n, n), generator=generator, dtype=dtype, device=device)
    q, r = torch.linalg.qr(z)
    d = torch.diagonal(r, dim1=-2, dim2=-1)
    ph = d / d.abs().clamp_min(torch.finfo(real_dtype(dtype)).tiny)
    return q * ph[..., None, :]


@dataclass
class UplinkProblem(BatchedProblem):
    """A batch of uplink ISAC instances (qi_uplink section II).

    ``batch_size``, ``subset``, ``to`` (e.g. ``to(dtype=torch.complex128)``: complex fields to
    complex128, real ones to float64) and ``cat`` come from
    :class:`~isaclearn.core.problem.BatchedProblem` (batched fields: ``h``, ``r_t``, ``p``,
    ``h_est``, ``distance_m``).

    Attributes
    ----------
    h : torch.Tensor
        True user channels ``[B, N_r, K]`` complex; column ``k`` is :math:`\\mathbf h_k` and enters
        the received signal as :math:`\\mathbf h_k^T` (eq. 6). Used for scoring.
    r_t : torch.Tensor
        Target response covariance :math:`\\mathbf R_T` ``[B, N_t, N_t]`` complex Hermitian PSD
        (covariance of each column of :math:`\\mathbf G`, W of echo gain per unit transmit power).
    p : torch.Tensor
        User transmit powers :math:`p_k` ``[B, K]`` real, watts.
    power_s : float
        Sensing power budget :math:`P_s` in watts
        (:math:`\\mathrm{tr}(\\mathbf S\\mathbf S^H)\\le P_s`, eq. 9b).
    noise_var : float
        Noise variance :math:`\\sigma_n^2` per receive antenna, watts.
    num_symbols : int
        Waveform length ``L`` (``L ≥ N_t``).
    alpha : float
        Sensing weight :math:`\\alpha\\in[0,1]` of the objective (eq. 9a/28).
    h_est : torch.Tensor or None
        Channel estimate :math:`\\hat{\\mathbf H}` ``[B, N_r, K]`` seen by the designers; ``None``
        means perfect CSI.
    distance_m : torch.Tensor or None
        User distances ``[B, K]`` in metres (informational).
    ms_mode : {"interference_free", "with_interference"}
        Definition of the normalizer :math:`M_s` of eq. (28) (see
        :mod:`isaclearn.metrics.uplink`); part of the objective, so designers and the evaluation
        read it from here.
    """

    h: torch.Tensor = field(metadata=BATCHED)
    r_t: torch.Tensor = field(metadata=BATCHED)
    p: torch.Tensor = field(metadata=BATCHED)
    power_s: float
    noise_var: float
    num_symbols: int
    alpha: float = 0.5
    h_est: torch.Tensor | None = field(default=None, metadata=BATCHED)
    distance_m: torch.Tensor | None = field(default=None, metadata=BATCHED)
    ms_mode: MsMode = "interference_free"

    def __post_init__(self) -> None:
        if self.ms_mode not in ("interference_free", "with_interference"):
            raise ConfigError(f"ms_mode must be 'interference_free' or 'with_interference', got "
                              f"{self.ms_mode!r}")
        if self.h.dim() != 3 or not self.h.is_complex():
            raise ShapeError(f"h must be complex with shape [B, N_r, K], got {tuple(self.h.shape)} "
                             f"{self.h.dtype}")
        b, _, k = self.h.shape
        if self.r_t.dim() != 3 or self.r_t.shape[0] != b or self.r_t.shape[1] != self.r_t.shape[2]:
            raise ShapeError(f"r_t must have shape [B={b}, N_t, N_t], got {tuple(self.r_t.shape)}")
        if not self.r_t.is_complex():
            raise ShapeError("r_t must be complex")
        if tuple(self.p.shape) != (b, k):
            raise ShapeError(f"p must have shape [B={b}, K={k}], got {tuple(self.p.shape)}")
        if self.h_est is not None and self.h_est.shape != self.h.shape:
            raise ShapeError(f"h_est must have the shape of h {tuple(self.h.shape)}, got "
                             f"{tuple(self.h_est.shape)}")
        check_finite(self.h, "h")
        check_finite(self.r_t, "r_t")
        check_positive(self.p, "p")
        check_positive(self.power_s, "power_s")
        check_positive(self.noise_var, "noise_var")
        if not 0.0 <= float(self.alpha) <= 1.0:
            raise ValueRangeError(f"alpha must lie in [0, 1], got {self.alpha}")
        if int(self.num_symbols) < self.num_tx:
            raise ConfigError(
                f"num_symbols L must be >= num_tx N_t (the waveform of eq. 31 has N_t singular "
                f"values), got L={self.num_symbols}, N_t={self.num_tx}"
            )

    @property
    def csi(self) -> torch.Tensor:
        """The channel a designer may use: ``h_est`` if given, else ``h``."""
        return self.h if self.h_est is None else self.h_est

    @property
    def num_rx(self) -> int:
        return int(self.h.shape[1])

    @property
    def num_users(self) -> int:
        return int(self.h.shape[2])

    @property
    def num_tx(self) -> int:
        return int(self.r_t.shape[-1])


@dataclass
class UplinkScenario:
    """Scenario of qi_uplink section V (defaults: Table II); ``sample`` draws an
    :class:`UplinkProblem`.

    Attributes
    ----------
    num_tx : int
        BS transmit antennas ``N_t`` (16).
    num_rx : int
        BS receive antennas ``N_r`` (16).
    num_users : int
        Single-antenna users ``K`` (5).
    num_symbols : int
        Waveform length ``L`` (20); must be ``≥ N_t``.
    cell_radius_m : float
        Cell radius ``d_0`` in metres (200); defines :math:`\\xi_0`.
    user_distance_factor : tuple of float
        Users are uniform in area on ``[f0·d_0, f1·d_0]`` (default ``(1, 2)``).
    snr_s_db : float
        :math:`\\mathrm{SNR}_s=10\\log_{10}(P_s\\xi_0/\\sigma_n^2)` in dB (10).
    snr_c_db : float
        :math:`\\mathrm{SNR}_c` in dB (0); see ``comm_snr_mode``.
    comm_snr_mode : {"per_user", "cell_edge"}
        ``"per_user"``: :math:`p_k\\xi_k/\\sigma_n^2=\\mathrm{SNR}_c` for every user (default);
        ``"cell_edge"``: :math:`p_k\\xi_0/\\sigma_n^2=\\mathrm{SNR}_c` for every user.
    alpha : float
        Sensing weight :math:`\\alpha` (0.5).
    rt_eig_range : tuple of float
        Uniform range of the eigenvalues of :math:`\\mathbf R_T` in units of :math:`\\xi_0`.
    csi_beta : float
        CSI accuracy :math:`\\beta\\in[0,1]`; ``1`` gives perfect CSI (``h_est = None``).
    noise_power_dbm : float
        :math:`\\sigma_n^2` in dBm (−104).
    ms_mode : {"interference_free", "with_interference"}
        Definition of :math:`M_s` (Appendix C: ``"interference_free"``).
    """

    num_tx: int = 16
    num_rx: int = 16
    num_users: int = 5
    num_symbols: int = 20
    cell_radius_m: float = 200.0
    user_distance_factor: tuple[float, float] = (1.0, 2.0)
    snr_s_db: float = 10.0
    snr_c_db: float = 0.0
    comm_snr_mode: CommSnrMode = "per_user"
    alpha: float = 0.5
    rt_eig_range: tuple[float, float] = (0.0, 1.0)
    csi_beta: float = 1.0
    noise_power_dbm: float = -104.0
    ms_mode: MsMode = "interference_free"

    def __post_init__(self) -> None:
        if min(self.num_tx, self.num_rx, self.num_users) < 1:
            raise ConfigError(
                f"num_tx, num_rx and num_users must be >= 1, got {self.num_tx}, {self.num_rx}, "
                f"{self.num_users}"
            )
        if self.num_symbols < self.num_tx:
            raise ConfigError(f"num_symbols L must be >= num_tx N_t, got L={self.num_symbols}, "
                              f"N_t={self.num_tx}")
        f0, f1 = self.user_distance_factor
        if not 0 < f0 <= f1:
            raise ConfigError(f"user_distance_factor must satisfy 0 < f0 <= f1, got {(f0, f1)}")
        if self.cell_radius_m <= 0:
            raise ConfigError(f"cell_radius_m must be positive, got {self.cell_radius_m}")
        if self.comm_snr_mode not in ("per_user", "cell_edge"):
            raise ConfigError(
                f"comm_snr_mode must be 'per_user' or 'cell_edge', got {self.comm_snr_mode!r}"
            )
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"alpha must lie in [0, 1], got {self.alpha}")
        lo, hi = self.rt_eig_range
        if not 0.0 <= lo < hi:
            raise ConfigError(f"rt_eig_range must satisfy 0 <= low < high, got {(lo, hi)}")
        if not 0.0 <= self.csi_beta <= 1.0:
            raise ConfigError(f"csi_beta must lie in [0, 1], got {self.csi_beta}")
        if self.ms_mode not in ("interference_free", "with_interference"):
            raise ConfigError(f"ms_mode must be 'interference_free' or 'with_interference', got "
                              f"{self.ms_mode!r}")

    @property
    def noise_var(self) -> float:
        """:math:`\\sigma_n^2` in watts."""
        return db_to_lin(self.noise_power_dbm - 30.0)

    @property
    def xi0(self) -> float:
        """Path gain :math:`\\xi_0` at the cell radius."""
        return float(path_gain(float(self.cell_radius_m)))

    @property
    def power_s(self) -> float:
        """Sensing budget :math:`P_s=\\mathrm{SNR}_s\\,\\sigma_n^2/\\xi_0` in watts."""
        return db_to_lin(self.snr_s_db) * self.noise_var / self.xi0

    def sample(
        self,
        batch_size: int,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.complex64,
        device: torch.device | str | None = None,
    ) -> UplinkProblem:
        """Draw ``batch_size`` independent instances.

        Parameters
        ----------
        batch_size : int
            Number of instances ``B``.
        generator : torch.Generator or None
            Source of randomness (same seed, same numbers).
        dtype : torch.dtype
            ``complex64`` (default) or ``complex128``.
        device : torch.device or str or None
            Defaults to the generator's device.

        Returns
        -------
        UplinkProblem
            Channels ``[B, N_r, K]``, ``R_T`` ``[B, N_t, N_t]``, powers ``[B, K]``.
        """
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if device is None:
            device = generator.device if generator is not None else "cpu"
        rdt = real_dtype(dtype)
        b, nt, nr, k = batch_size, self.num_tx, self.num_rx, self.num_users
        d0 = float(self.cell_radius_m)
        f0, f1 = self.user_distance_factor
        u = torch.rand((b, k), generator=generator, dtype=torch.float64, device=device)
        dist = torch.sqrt((f0 * d0) ** 2 + u * ((f1 * d0) ** 2 - (f0 * d0) ** 2))
        xi = path_gain(dist)
        sigma2 = self.noise_var
        snr_c = db_to_lin(self.snr_c_db)
        if self.comm_snr_mode == "per_user":
            p = snr_c * sigma2 / xi
        else:
            p = torch.full_like(xi, snr_c * sigma2 / self.xi0)

        h_bar = complex_normal((b, nr, k), generator=generator, dtype=dtype, device=device)
        h = h_bar * torch.sqrt(xi).to(rdt)[:, None, :]

        g = complex_normal((b, nt, nt), generator=generator, dtype=dtype, device=device)
        u_t = torch.linalg.svd(g)[0]
        lo, hi = self.rt_eig_range
        ev = lo + (hi - lo) * torch.rand((b, nt), generator=generator, dtype=rdt, device=device)
        ev = ev * self.xi0
        r_t = (u_t * ev.to(dtype)[:, None, :]) @ u_t.conj().transpose(-2, -1)
        r_t = 0.5 * (r_t + r_t.conj().transpose(-2, -1))

        h_est: torch.Tensor | None = None
        beta = float(self.csi_beta)
        if beta < 1.0:
            # (H, Ĥ) jointly Gaussian, unit variances, correlation sqrt(β): the law of
            # H = sqrt(β) Ĥ + E; sampled as Ĥ = sqrt(β) H + E' (drawn last) so that the true
            # channels and R_T do not depend on β.
            e = complex_normal((b, nr, k), generator=generator, dtype=dtype, device=device)
            h_est_bar = math.sqrt(beta) * h_bar + math.sqrt(1.0 - beta) * e
            h_est = h_est_bar * torch.sqrt(xi).to(rdt)[:, None, :]
        return UplinkProblem(
            h=h,
            r_t=r_t,
            p=p.to(rdt),
            power_s=self.power_s,
            noise_var=sigma2,
            num_symbols=self.num_symbols,
            alpha=self.alpha,
            h_est=h_est,
            distance_m=dist.to(rdt),
            ms_mode=self.ms_mode,
        )
