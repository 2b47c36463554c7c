r"""Sensing metrics of a MIMO radar that reuses the communication waveform.

Signal model (Liu et al. 2022, as used in temiz_unsup section II-B): for each target ``t`` and
snapshot ``l``, :math:`\mathbf y_l = \alpha_t \mathbf A(\theta_t)\mathbf x_l + \mathbf n_l`, with
:math:`\mathbf A(\theta) = \mathbf b(\theta)\mathbf a^H(\theta)`, transmit ULA steering
:math:`\mathbf a \in \mathbb C^M`, receive ULA steering :math:`\mathbf b \in \mathbb C^N`, both
centre-referenced (eq. 10), and transmit covariance
:math:`\mathbf R_X = \frac1L \mathbf X\mathbf X^H = \mathbf W\mathbf W^H` for unit-power,
uncorrelated symbols.

The CRB on :math:`\theta_t` with :math:`\alpha_t` unknown (eq. 5) is

.. math::
   \psi(\theta_t) = \frac{\operatorname{tr}(\mathbf A^H\mathbf A\mathbf R_X)}
   {2\eta_t L\big(\operatorname{tr}(\dot{\mathbf A}^H\dot{\mathbf A}\mathbf R_X)
   \operatorname{tr}(\mathbf A^H\mathbf A\mathbf R_X)
   - |\operatorname{tr}(\dot{\mathbf A}^H\mathbf A\mathbf R_X)|^2\big)},

with :math:`\eta_t = |\alpha_t|^2/\sigma_r^2`. With :math:`\mathbf R_X = \mathbf W\mathbf W^H`
the traces are inner products of ``A W`` and ``Ȧ W``, which is how :func:`crb_angle` computes
them; :func:`crb_from_covariance` evaluates the same CRB for a general :math:`\mathbf R_X`
(a covariance with no ``M × K`` factor, e.g. a semidefinite-relaxation solution).
The approximation of eq. (22) is :math:`\tilde\psi = 1/(2\eta L\,\mathbf a^H\mathbf R_X\mathbf a)`.

Notes
-----
Units: angles in radians, so the CRB is in rad². ``radar_snr`` is the echo SNR per unit of
transmit covariance; the transmit power enters through ``w``.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from isaclearn.arrays import Reference, ula, ula_derivative
from isaclearn.core.checks import as_positive_per_item, check_count, check_last_dims
from isaclearn.core.dtypes import as_real_tensor, complex_dtype, real_dtype
from isaclearn.core.errors import ShapeError, ValueRangeError
from isaclearn.core.linalg import abs_sq, herm


def _as_complex(w: torch.Tensor) -> torch.Tensor:
    """``w`` as a complex tensor (a real precoder is promoted, not truncated)."""
    return w if w.is_complex() else w.to(complex_dtype(w.dtype))


def _angles(theta: torch.Tensor | float, w: torch.Tensor, name: str = "theta") -> torch.Tensor:
    t = torch.as_tensor(theta, device=w.device)
    if t.is_complex():
        raise ValueRangeError(f"{name} must be real (radians)")
    if t.dim() == 0:
        t = t[None]
    return t.to(real_dtype(w.dtype))


def _snr(radar_snr: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    """``radar_snr`` shaped to broadcast against the per-target values ``like`` ``[..., T]``.

    The number of dimensions decides (a batch of size ``T`` is never mistaken for a per-target
    vector): scalar, ``[...]`` per instance (one dimension fewer than ``like``) or ``[..., T]``.
    """
    eta = as_real_tensor(radar_snr, like=like)
    if eta.dim() == like.dim() - 1:
        eta = eta[..., None]  # per instance: broadcast over targets
    elif eta.dim() not in (0, like.dim()):
        raise ShapeError(
            f"radar_snr must be a scalar, [...] per instance or [..., T] per target for "
            f"per-target values of shape {tuple(like.shape)}, got shape {tuple(eta.shape)}"
        )
    try:
        torch.broadcast_shapes(eta.shape, like.shape)
    except RuntimeError:
        raise ShapeError(
            f"radar_snr of shape {tuple(eta.shape)} does not broadcast against the per-target "
            f"values of shape {tuple(like.shape)}"
        ) from None
    return eta


def _check_batch(w: torch.Tensor, t: torch.Tensor) -> None:
    try:
        torch.broadcast_shapes(w.shape[:-2], t.shape[:-1])
    except RuntimeError:
        raise ShapeError(
            f"theta [..., T] of shape {tuple(t.shape)} and w [..., M, K] of shape "
            f"{tuple(w.shape)} have batch dimensions that do not broadcast"
        ) from None


def covariance(w: torch.Tensor) -> torch.Tensor:
    r"""Transmit covariance :math:`\mathbf R_X = \mathbf W\mathbf W^H`, ``[..., M, M]``."""
    check_last_dims(w, (None, None), "w", "[..., M, K]")
    return w @ herm(w)


def crb_angle(
    w: torch.Tensor,
    theta: torch.Tensor | float,
    *,
    num_rx: int,
    radar_snr: torch.Tensor | float,
    num_symbols: int,
    reference: Reference = "center",
    spacing: float = 0.5,
) -> torch.Tensor:
    r"""Exact CRB of each target angle, eq. (5) of temiz_unsup (Liu et al. 2022).

    Parameters
    ----------
    w : torch.Tensor
        Precoder ``[..., M, K]`` complex (any number of columns, e.g. ``K`` streams or a
        covariance square root).
    theta : torch.Tensor
        Target angles ``[T]`` or ``[..., T]`` in radians.
    num_rx : int
        Radar receive antennas ``N``.
    radar_snr : float or torch.Tensor
        :math:`\eta` (linear): a scalar, ``[...]`` per instance (one dimension fewer than the
        result) or ``[..., T]`` per target (as many dimensions as the result; a per-target
        vector shared by a batch is ``[1, T]``).
    num_symbols : int
        Snapshots ``L``.
    reference, spacing
        Array convention of both ULAs (see :func:`isaclearn.arrays.ula`).

    Returns
    -------
    torch.Tensor
        ``[..., T]`` real, rad²; ``float32`` for ``complex64`` ``w``, ``float64`` for
        ``complex128``; ``+inf`` for a target the design gives no angle information about
        (e.g. ``W = 0``, or a beam orthogonal to the target's steering vector).

    Raises
    ------
    ShapeError
        If ``w``, ``theta`` or ``radar_snr`` have incompatible shapes.
    ConfigError
        If ``num_rx`` or ``num_symbols`` is not a positive integer.
    """
    check_last_dims(w, (None, None), "w", "[..., M, K]")
    check_count(num_rx, "num_rx")
    check_count(num_symbols, "num_symbols")
    w = _as_complex(w)
    m = w.shape[-2]
    t = _angles(theta, w)
    _check_batch(w, t)
    a = ula(m, t, reference=reference, spacing=spacing).to(w.dtype)  # [..., T, M]
    da = ula_derivative(m, t, reference=reference, spacing=spacing).to(w.dtype)
    b = ula(num_rx, t, reference=reference, spacing=spacing).to(w.dtype)  # [..., T, N]
    db = ula_derivative(num_rx, t, reference=reference, spacing=spacing).to(w.dtype)
    wt = w.unsqueeze(-3)  # [..., 1, M, K]
    aw = (a.conj().unsqueeze(-2) @ wt).squeeze(-2)  # a^H W: [..., T, K]
    daw = (da.conj().unsqueeze(-2) @ wt).squeeze(-2)  # ȧ^H W
    # A W = b (a^H W); Ȧ W = ḃ (a^H W) + b (ȧ^H W).  Inner products over [N, K]:
    bb = abs_sq(b).sum(-1)  # ||b||^2, [..., T]
    dbdb = abs_sq(db).sum(-1)
    bdb = (b.conj() * db).sum(-1)  # b^H ḃ
    n_aw = abs_sq(aw).sum(-1)  # ||a^H W||^2
    n_daw = abs_sq(daw).sum(-1)
    c_aw_daw = (aw.conj() * daw).sum(-1)  # sum conj(a^H W) * (ȧ^H W)
    t_aa = bb * n_aw  # tr(A^H A R) = ||A W||^2
    # ||Ȧ W||^2 = ||ḃ||²||a^H W||² + ||b||²||ȧ^H W||² + 2 Re{(ḃ^H b) <ȧ^H W, a^H W>}
    t_dd = dbdb * n_aw + bb * n_daw + 2.0 * (bdb.conj() * c_aw_daw).real
    # tr(Ȧ^H A R) = <Ȧ W, A W> = sum conj(Ȧ W) * (A W) = (ḃ^H b)||a^H W||² + ||b||² <ȧ^H W, a^H W>
    t_da = bdb.conj() * n_aw + bb * c_aw_daw.conj()
    eta = _snr(radar_snr, t_aa)
    denom = 2.0 * eta * num_symbols * (t_dd * t_aa - abs_sq(t_da))
    # No angle information (a target the design does not illuminate, e.g. W = 0): the Fisher
    # information is singular and the bound is +inf (not 0/0). The safe denominator keeps the
    # gradient finite there.
    informative = denom > 0
    return torch.where(informative, t_aa / torch.where(informative, denom, 1.0),
                       torch.full_like(t_aa, math.inf))


def crb_angle_approx(
    w: torch.Tensor,
    theta: torch.Tensor | float,
    *,
    radar_snr: torch.Tensor | float,
    num_symbols: int,
    reference: Reference = "center",
    spacing: float = 0.5,
) -> torch.Tensor:
    r"""Approximate CRB of eq. (22): :math:`1/(2\eta L\,\mathbf a^H\mathbf W\mathbf W^H\mathbf a)`.

    Parameters as in :func:`crb_angle` (no receive array). Returns ``[..., T]`` real.
    """
    check_last_dims(w, (None, None), "w", "[..., M, K]")
    check_count(num_symbols, "num_symbols")
    w = _as_complex(w)
    m = w.shape[-2]
    t = _angles(theta, w)
    _check_batch(w, t)
    a = ula(m, t, reference=reference, spacing=spacing).to(w.dtype)  # [..., T, M]
    gain = abs_sq(a.conj().unsqueeze(-2) @ w.unsqueeze(-3)).sum(dim=(-2, -1))  # [..., T]
    eta = _snr(radar_snr, gain)
    return 1.0 / (2.0 * eta * num_symbols * gain)


def _fisher_traces(
    r_x: torch.Tensor, a: torch.Tensor, da: torch.Tensor, b: torch.Tensor, db: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""``tr(Ȧ^H Ȧ R)``, ``tr(Ȧ^H A R)``, ``tr(A^H A R)`` for ``A = b a^H``, each ``[..., T]``.

    With :math:`\dot{\mathbf A} = \dot{\mathbf b}\mathbf a^H + \mathbf b\dot{\mathbf a}^H`:
    ``tr(A^H A R) = ||b||² a^H R a``,
    ``tr(Ȧ^H Ȧ R) = ||ḃ||² a^H R a + ||b||² ȧ^H R ȧ + 2 Re{(ḃ^H b)(ȧ^H R a)}`` and
    ``tr(Ȧ^H A R) = (ḃ^H b) a^H R a + ||b||² a^H R ȧ``.
    """
    ra = (r_x.unsqueeze(-3) @ a.unsqueeze(-1)).squeeze(-1)  # R a: [..., T, M]
    rda = (r_x.unsqueeze(-3) @ da.unsqueeze(-1)).squeeze(-1)  # R ȧ
    q_aa = (a.conj() * ra).sum(-1).real  # a^H R a
    q_dd = (da.conj() * rda).sum(-1).real  # ȧ^H R ȧ
    q_da = (da.conj() * ra).sum(-1)  # ȧ^H R a
    bb = (b.conj() * b).sum(-1).real
    dbdb = (db.conj() * db).sum(-1).real
    dbb = (db.conj() * b).sum(-1)  # ḃ^H b
    t_aa = bb * q_aa
    t_dd = dbdb * q_aa + bb * q_dd + 2.0 * (dbb * q_da).real
    t_da = dbb * q_aa + bb * q_da.conj()
    return t_dd, t_da, t_aa


def crb_from_covariance(
    r_x: torch.Tensor,
    theta: torch.Tensor | float,
    *,
    num_rx: int,
    radar_snr: torch.Tensor | float,
    num_symbols: int,
    reference: str = "center",
    spacing: float = 0.5,
) -> torch.Tensor:
    r"""Exact CRB of each target angle for a general transmit covariance, eq. (5) of temiz_unsup.

    .. math::
       \mathrm{CRB}_t = \frac{\operatorname{tr}(\mathbf A_t^H\mathbf A_t\mathbf R_X)}
       {2\eta_t L\big(\operatorname{tr}(\dot{\mathbf A}_t^H\dot{\mathbf A}_t\mathbf R_X)
       \operatorname{tr}(\mathbf A_t^H\mathbf A_t\mathbf R_X)
       - |\operatorname{tr}(\dot{\mathbf A}_t^H\mathbf A_t\mathbf R_X)|^2\big)}

    It equals :func:`isaclearn.metrics.crb_angle` ``(w, ...)`` when ``r_x = w w^H``, and is
    needed for covariances that have no ``M × K`` factor (semidefinite-relaxation solutions).

    Parameters
    ----------
    r_x : torch.Tensor
        Transmit covariance ``[..., M, M]`` complex, Hermitian positive semidefinite (watts).
        Only its Hermitian part is used.
    theta : torch.Tensor or float
        Target angles ``[T]`` or ``[..., T]`` in radians.
    num_rx : int
        Radar receive antennas ``N``.
    radar_snr : float or torch.Tensor
        :math:`\eta` (linear): scalar, ``[...]`` per instance or ``[..., T]`` per target.
    num_symbols : int
        Snapshots ``L``.
    reference, spacing
        Array convention of both ULAs (see :func:`isaclearn.arrays.ula`).

    Returns
    -------
    torch.Tensor
        ``[..., T]`` real (rad²), in the real dtype of ``r_x``.

    Raises
    ------
    ShapeError
        If ``r_x`` is not square ``[..., M, M]`` or ``theta``/``radar_snr`` do not broadcast.
    ConfigError
        If ``num_rx`` or ``num_symbols`` is not a positive integer.

    Examples
    --------
    >>> import torch
    >>> r = torch.eye(4, dtype=torch.complex128) / 4
    >>> crb_from_covariance(r, torch.tensor([0.0, 0.3]), num_rx=4, radar_snr=10.0,
    ...                     num_symbols=1).shape
    torch.Size([2])
    """
    check_last_dims(r_x, (None, None), "r_x", "[..., M, M]")
    if r_x.shape[-1] != r_x.shape[-2]:
        raise ShapeError(f"r_x must be square [..., M, M], got shape {tuple(r_x.shape)}")
    check_count(num_rx, "num_rx")
    check_count(num_symbols, "num_symbols")
    r = r_x if r_x.is_complex() else r_x.to(complex_dtype(r_x.dtype))
    r = 0.5 * (r + r.conj().transpose(-2, -1))
    t = torch.as_tensor(theta, device=r.device)
    if t.is_complex():
        raise ValueRangeError("theta must be real (radians)")
    if t.dim() == 0:
        t = t[None]
    t = t.to(real_dtype(r.dtype))
    kw: dict[str, Any] = {"reference": reference, "spacing": spacing}
    m, n = r.shape[-1], int(num_rx)
    a, da = ula(m, t, **kw).to(r.dtype), ula_derivative(m, t, **kw).to(r.dtype)  # [..., T, M]
    b, db = ula(n, t, **kw).to(r.dtype), ula_derivative(n, t, **kw).to(r.dtype)  # [..., T, N]
    t_dd, t_da, t_aa = _fisher_traces(r, a, da, b, db)
    eta = as_positive_per_item(radar_snr, t_aa, "radar_snr")
    t_da_sq = t_da.real.square() + t_da.imag.square()
    return t_aa / (2.0 * eta * num_symbols * (t_dd * t_aa - t_da_sq))


def beampattern(
    w: torch.Tensor,
    angles: torch.Tensor,
    *,
    reference: Reference = "center",
    spacing: float = 0.5,
    sign: int = 1,
    normalize: bool = False,
) -> torch.Tensor:
    r"""Transmit beampattern :math:`P(\phi) = \mathbf a^H(\phi)\mathbf W\mathbf W^H\mathbf a(\phi)`.

    Parameters
    ----------
    w : torch.Tensor
        Precoder ``[..., M, K]`` complex.
    angles : torch.Tensor
        Grid ``[G]`` in radians.
    reference, spacing, sign, normalize
        Steering convention of :func:`isaclearn.arrays.ula` (the phase reference does not change
        the pattern). ``sign=-1, normalize=True`` is the :math:`1/\sqrt M` steering of
        liu_irs_ppo eq. (5) with sin (spec §6.1).

    Returns
    -------
    torch.Tensor
        ``[..., G]`` real, transmit power radiated towards each angle (watts per unit
        steering-vector gain; ``M · P_t`` is the maximum for unit-modulus steering, ``P_t`` for
        ``normalize=True``).
    """
    check_last_dims(w, (None, None), "w", "[..., M, K]")
    w = _as_complex(w)
    g = _angles(angles, w, "angles")
    if g.dim() != 1:
        raise ShapeError(f"angles must have shape [G], got shape {tuple(g.shape)}")
    a = ula(w.shape[-2], g, reference=reference, spacing=spacing, sign=sign,
            normalize=normalize).to(w.dtype)  # [G, M]
    return abs_sq(a.conj() @ w).sum(dim=-1)


def fisher_angle(
    r_x: torch.Tensor,
    theta: torch.Tensor | float,
    *,
    num_rx: int,
    radar_snr: torch.Tensor | float,
    num_symbols: int,
    reference: Reference = "first",
    spacing: float = 0.5,
    sign: int = -1,
    normalize: bool = True,
) -> torch.Tensor:
    r"""Fisher information of one target angle with the echo amplitude unknown, per covariance.

    Eq. (10) of yang_som (``shared/papers/000_e47146536a3e5322.txt``), one value per transmit
    covariance (e.g. per subcarrier ``m``):

    .. math::
       J_m(\theta) = \frac{2|\alpha_m|^2 L}{\sigma_s^2}\,
       \frac{\operatorname{tr}(\dot{\mathbf A}^H\dot{\mathbf A}\mathbf R_{x,m})
             \operatorname{tr}(\mathbf A^H\mathbf A\mathbf R_{x,m})
             - |\operatorname{tr}(\dot{\mathbf A}^H\mathbf A\mathbf R_{x,m})|^2}
            {\operatorname{tr}(\mathbf A^H\mathbf A\mathbf R_{x,m})},
       \qquad \mathbf A = \mathbf a_r(\theta)\mathbf a_t^H(\theta),

    the Schur complement of the Fisher matrix of :math:`(\theta, \Re\alpha_m, \Im\alpha_m)` for
    ``L`` snapshots :math:`\mathbf y_l = \alpha_m\mathbf A\mathbf x_l + \mathbf z_l`,
    :math:`\mathbf z\sim\mathcal{CN}(0,\sigma_s^2\mathbf I)`, with
    :math:`\mathbf R_{x,m} = \frac1L\sum_l\mathbf x_l\mathbf x_l^H`. With independent
    :math:`\alpha_m` per subcarrier the wideband information is :math:`\sum_m J_m` and the CRLB
    (11) is its inverse (:func:`crlb_from_fisher`). For ``r_x`` ``[..., M, M]`` this is the
    inverse of :func:`crb_from_covariance` with one target.

    Parameters
    ----------
    r_x : torch.Tensor
        ``[..., M, M]`` complex transmit covariance per symbol (watts), Hermitian PSD; only its
        Hermitian part is used. ``[B, S, M, M]`` gives one value per subcarrier.
    theta : float or torch.Tensor
        Target angle (radians from broadside), broadcastable against ``r_x.shape[:-2]`` (pass
        ``[B, 1]`` for one angle per instance and ``[B, S, M, M]`` covariances).
    num_rx : int
        Radar receive antennas ``N`` [:math:`N_r`].
    radar_snr : float or torch.Tensor
        :math:`|\alpha_m|^2/\sigma_s^2` (linear), ``> 0``, broadcastable against
        ``r_x.shape[:-2]``.
    num_symbols : int
        ``L`` (the paper omits it in (10); a constant factor, spec §2).
    reference, spacing, sign, normalize
        Steering convention of both arrays (:func:`isaclearn.arrays.ula`); the defaults are
        yang_som's :math:`[\mathbf a(\theta)]_i = M^{-1/2}e^{-j i\pi\sin\theta}` (0-based ``i``).

    Returns
    -------
    torch.Tensor
        ``[...]`` real (rad⁻²), ``broadcast(r_x.shape[:-2], theta.shape)``, ``≥ 0``; 0 where
        the design gives no angle information (``tr(A^H A R) = 0``). The numerator, ``≥ 0`` by
        Cauchy–Schwarz, is clamped at 0 against rounding (in ``complex64`` a beam that nearly
        nulls the target can otherwise give a negative value and a negative CRLB).

    Raises
    ------
    ShapeError
        ``r_x`` not square, or shapes that do not broadcast.
    ConfigError
        ``num_rx`` or ``num_symbols`` not a positive integer, bad convention.
    ValueRangeError
        ``theta`` complex or ``radar_snr`` not positive.

    Notes
    -----
    The printed text of (10) garbles :math:`\mathbf R_{x,m}` and has no ``L`` (spec §6.7); the
    paper's :math:`\mathbf R_{x,m} = \frac{P_t}{N_tUM}\mathbf F_{RF}\mathbf F_{BB,m}
    \mathbf F_{BB,m}^H\mathbf F_{RF}^H` is the covariance of the applied precoder.

    Examples
    --------
    >>> import torch
    >>> r = torch.eye(4, dtype=torch.complex128).expand(3, 4, 4) / 4
    >>> fisher_angle(r, 0.2, num_rx=4, radar_snr=1.0, num_symbols=8).shape
    torch.Size([3])
    """
    check_last_dims(r_x, (None, None), "r_x", "[..., M, M]")
    if r_x.shape[-1] != r_x.shape[-2]:
        raise ShapeError(f"r_x must be square [..., M, M], got shape {tuple(r_x.shape)}")
    check_count(num_rx, "num_rx")
    check_count(num_symbols, "num_symbols")
    r = r_x if r_x.is_complex() else r_x.to(complex_dtype(r_x.dtype))
    r = 0.5 * (r + r.conj().transpose(-2, -1))
    t = torch.as_tensor(theta, device=r.device)
    if t.is_complex():
        raise ValueRangeError("theta must be real (radians)")
    t = t.to(real_dtype(r.dtype))
    try:
        batch = torch.broadcast_shapes(r.shape[:-2], t.shape)
    except RuntimeError:
        raise ShapeError(f"theta of shape {tuple(t.shape)} does not broadcast against r_x "
                         f"[..., M, M] of shape {tuple(r.shape)}") from None
    kw: dict[str, Any] = {"reference": reference, "spacing": spacing, "sign": sign,
                          "normalize": normalize}
    m, n = r.shape[-1], int(num_rx)
    tt = t.expand(batch)[..., None]  # [..., 1]: one "target" for _fisher_traces
    a, da = ula(m, tt, **kw).to(r.dtype), ula_derivative(m, tt, **kw).to(r.dtype)
    b, db = ula(n, tt, **kw).to(r.dtype), ula_derivative(n, tt, **kw).to(r.dtype)
    t_dd, t_da, t_aa = (x[..., 0] for x in _fisher_traces(r.expand(*batch, m, m), a, da, b, db))
    eta = as_real_tensor(radar_snr, like=t_aa)
    if not bool((eta > 0).all()):
        raise ValueRangeError("radar_snr must be > 0")
    # the Cauchy–Schwarz gap tr(Ȧ^HȦR)tr(A^HAR) − |tr(Ȧ^HAR)|² ≥ 0; rounding (complex64,
    # a beam that nearly nulls the target) can make it slightly negative: clamp at 0
    num = (t_dd * t_aa - (t_da.real.square() + t_da.imag.square())).clamp_min(0.0)
    informative = t_aa > 0
    safe = torch.where(informative, t_aa, torch.ones_like(t_aa))
    return torch.where(informative, 2.0 * eta * num_symbols * num / safe,
                       torch.zeros_like(t_aa))


def crlb_from_fisher(fisher: torch.Tensor, *, dim: int = -1, db: bool = False) -> torch.Tensor:
    r"""Angle CRLB (11) :math:`1/\sum_m J_m` from per-subcarrier Fisher information.

    Parameters
    ----------
    fisher : torch.Tensor
        ``[..., S]`` real, :func:`fisher_angle` per subcarrier (rad⁻²).
    dim : int
        Dimension summed over (the subcarriers).
    db : bool
        If True, return :math:`10\log_{10}` of the bound (dB of rad²).

    Returns
    -------
    torch.Tensor
        ``[...]`` real, rad² (``+inf`` when the total information is 0).

    Examples
    --------
    >>> import torch
    >>> crlb_from_fisher(torch.tensor([[5.0, 5.0]]), db=True)
    tensor([-10.])
    """
    crlb = 1.0 / fisher.sum(dim=dim)
    return 10.0 * torch.log10(crlb) if db else crlb
