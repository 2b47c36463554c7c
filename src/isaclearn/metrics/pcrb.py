r"""Posterior Cramér–Rao bound (PCRB) of a tracked vehicle and the sensing threshold Λ.

Model (ding_dt, ``shared/papers/004_...txt``). The state of a vehicle seen from an RSU is
:math:`\mathbf x = [\varphi, d, \dot v]^T` (direction cosine, range in m, closing radial speed in
m/s). After matched filtering the echo gives (12)–(14)

.. math::
    \tilde{\mathbf r} = \kappa\beta G\,\mathbf b(\varphi)\mathbf a^H(\varphi)\mathbf f
    + \tilde{\mathbf z},\quad \tilde{\mathbf z}\sim\mathcal{CN}(0, \sigma_r^2\mathbf I_{N_r}),
    \qquad \tilde\nu = \tfrac{2d}{c} + \varepsilon,\qquad
    \tilde\mu = \tfrac{2\dot v f_c}{c} + \varrho',

with :math:`\varepsilon\sim\mathcal N(0,\sigma_\nu^2)`, :math:`\varrho'\sim\mathcal N(0,
\sigma_\mu^2)`. The Jacobian (22) has disjoint rows (``β`` is treated as known, so
:math:`\partial\tilde{\mathbf r}/\partial d = 0`), hence the measurement information is diagonal:

.. math::
    \mathbf J^{meas} = \mathbf H^T\mathbf Q^{-1}\mathbf H = \operatorname{diag}\Big(
    c_f\frac{\kappa^2|\beta|^2G^2\|\mathbf\Pi\mathbf f\|^2}{\sigma_r^2},\;
    \frac{(2/c)^2}{\sigma_\nu^2},\;\frac{(2f_c/c)^2}{\sigma_\mu^2}\Big),
    \qquad \mathbf\Pi = \frac{\partial\,\mathbf b(\varphi)\mathbf a^H(\varphi)}{\partial\varphi}
    = \dot{\mathbf b}\mathbf a^H + \mathbf b\dot{\mathbf a}^H .

``c_f = 2`` is the Fisher information of a mean in circular complex Gaussian noise,
:math:`2\,\mathrm{Re}\{\partial\boldsymbol\mu^H\partial\boldsymbol\mu\}/\sigma_r^2`; the paper's
(35) as printed corresponds to ``c_f = 1`` (flag ``c_f``).

PCRB recursion (35) with the process noise :math:`\mathbf E` of (18) kept in the prior (the
Tichavský recursion; (36) as printed drops :math:`\mathbf E`, which is ``process_cov = 0`` here):

.. math::
    \hat{\mathbf M}_n = \mathbf G_n\tilde{\mathbf M}_{n-1}\mathbf G_n^T + \mathbf E,\qquad
    \mathbf J_n = \mathbf J^{meas}_n + \hat{\mathbf M}_n^{-1},\qquad
    \tilde{\mathbf M}_n = \mathbf J_n^{-1}.

The RCRB of Fig. 11 is :math:`\sqrt{\tilde m^{(22)}_n}` in metres (:func:`rcrb`).

Sensing threshold Λ (37), (54)–(58). The constraint :math:`\tilde m^{(11)}_n\le\tilde
m^{(11)}_{n-1}` of Problem (38) is a condition on :math:`\|\mathbf\Pi\mathbf f\|^2`. Write
:math:`\mathbf\Omega = \mathbf J_n` (54) and split off its first row and column. Only
:math:`\omega_{11} = g_\varphi\|\mathbf\Pi\mathbf f\|^2 + [\hat{\mathbf M}^{-1}]_{11}`
depends on ``f``, with the angle gain :math:`g_\varphi = c_f\kappa^2|\beta|^2G^2/\sigma_r^2`
(:func:`angle_information_gain`). The other entries are

.. math::
    \boldsymbol\omega_{1,2:3} = [\hat{\mathbf M}^{-1}]_{1,2:3} + [\mathbf J^{meas}]_{1,2:3}
    \;(= [\hat{\mathbf M}^{-1}]_{1,2:3}\text{ for (22)}),\qquad
    \mathbf\Omega_{2:3} = [\hat{\mathbf M}^{-1}]_{2:3,2:3}
    + \operatorname{diag}\Big(\frac{(2/c)^2}{\sigma_\nu^2}, \frac{(2f_c/c)^2}{\sigma_\mu^2}\Big),

i.e. :math:`\mathbf J_n` with the measurement part of its (1,1) entry removed. By the Schur
complement :math:`\tilde m^{(11)}_n = 1/(\omega_{11} - \boldsymbol\omega_{1,2:3}
\mathbf\Omega_{2:3}^{-1}\boldsymbol\omega_{2:3,1})`, so the constraint is
:math:`\|\mathbf\Pi\mathbf f\|^2 \ge \Lambda` with

.. math::
    \Lambda = \Big(\frac{1}{\tilde m^{(11)}_{n-1}}
    + \boldsymbol\omega_{1,2:3}\mathbf\Omega_{2:3}^{-1}\boldsymbol\omega_{2:3,1}
    - [\hat{\mathbf M}^{-1}]_{11}\Big)\frac{\sigma_r^2}{c_f\kappa^2|\beta|^2G^2}
    \qquad(:func:`sensing_threshold`).

In the design, :math:`\sigma_\nu^2, \sigma_\mu^2` of (16)/(17) are evaluated with
:math:`|\eta| = 1` (they depend on ``f`` through :math:`\eta = \mathbf a^H\mathbf f`, which the
paper neglects; the simulation uses the actual η). :math:`\Lambda\le 0`: the constraint is
inactive. :math:`\Lambda > \lambda_{max}(\mathbf\Pi^H\mathbf\Pi)\,P`: no beam of power ``P``
meets it (:func:`sensing_status`). The "slack" reading of the spec,
:math:`\tilde m^{(11)}_n \le (1+\epsilon_s)\tilde m^{(11)}_{n-1}`, is
``sensing_threshold((1 + eps_s) * m_prev_11, ...)``.

Notes
-----
Defects of the printed appendix (!), and what :func:`sensing_threshold_literal` does:

- (56) moves the cofactor term :math:`\omega_{13}(\omega_{21}\omega_{32}-\omega_{22}\omega_{31})`
  of (55) across the inequality without changing its sign. From (55), correctly,
  :math:`\omega_{11}\ge(\omega_{12}C_{12} - \omega_{13}C_{13} + D_{23}/\tilde m^{(11)}_{n-1})
  / D_{23}` with :math:`C_{12} = \omega_{21}\omega_{33}-\omega_{23}\omega_{31}`,
  :math:`C_{13} = \omega_{21}\omega_{32}-\omega_{22}\omega_{31}`,
  :math:`D_{23} = \omega_{22}\omega_{33}-\omega_{23}\omega_{32}`; for symmetric Ω,
  :math:`\omega_{12}C_{12}-\omega_{13}C_{13} = \boldsymbol\omega_{1,2:3}\mathbf\Omega_{2:3}^{-1}
  \boldsymbol\omega_{2:3,1}D_{23}`, the Schur form above.
- (57)/(58) write :math:`\hat m^{(11)}` (an entry of :math:`\hat{\mathbf M}`) where
  :math:`[\hat{\mathbf M}^{-1}]_{11}` is meant, :math:`\beta^2` for :math:`|\beta|^2`, and
  (57) has ``c_f = 1``.

Units: φ is a direction cosine (dimensionless), d in m, :math:`\dot v` in m/s, delays in s,
Doppler in Hz. The PCRB matrices are ``[..., 3, 3]`` in those units squared. Everything is
batched over leading dimensions ``[...]`` and differentiable; use float64 (the information
entries span ten orders of magnitude, 1e15 for the angle against 1e5–1e6 for range and speed).
Inverses of the small symmetric positive-definite matrices are computed after a diagonal
(Jacobi) equilibration, which keeps them accurate across those scales.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from isaclearn.arrays import Reference, ula_u, ula_u_derivative
from isaclearn.channels.rician import SPEED_OF_LIGHT  # noqa: E402  (c in m/s, shared)
from isaclearn.core.checks import check_last_dims
from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError
from isaclearn.core.linalg import abs_sq, herm

__all__ = [
    "SPEED_OF_LIGHT",
    "SensingStatus",
    "angle_derivative_gram",
    "angle_derivative_matrix",
    "angle_information_gain",
    "angle_information_max",
    "beam_angle_power",
    "measurement_information",
    "pcrb_recursion",
    "pcrb_std",
    "pcrb_step",
    "predicted_mse",
    "rcrb",
    "sensing_status",
    "sensing_threshold",
    "sensing_threshold_literal",
    "spd_inverse",
]


# ----------------------------------------------------------------------------------------------
# helpers


def _reals(*items: tuple[torch.Tensor | float, str]) -> tuple[torch.Tensor, ...]:
    """Each ``(value, name)`` as a real floating tensor, all on the device of the first tensor
    among them, in the dtype the floating tensors promote to (float64 wins; Python numbers take
    that dtype directly, so they are never rounded through float32; the default dtype when no
    floating tensor is given)."""
    tensors = [x for x, _ in items if isinstance(x, torch.Tensor)]
    for x, name in items:
        if isinstance(x, torch.Tensor) and x.is_complex() or isinstance(x, complex):
            raise ValueRangeError(f"{name} must be real, got a complex value")
    device = tensors[0].device if tensors else None
    dt: torch.dtype | None = None
    for t in tensors:
        if t.is_floating_point():
            dt = t.dtype if dt is None else torch.promote_types(dt, t.dtype)
    if dt is None:
        dt = torch.get_default_dtype()
    return tuple(torch.as_tensor(x, dtype=dt, device=device) for x, _ in items)


def _check_nonneg(t: torch.Tensor, name: str, *, allow_inf: bool = False,
                  strict: bool = False) -> None:
    bad = torch.isnan(t) | (t <= 0 if strict else t < 0)
    if not allow_inf:
        bad = bad | torch.isinf(t)
    if bool(bad.any()):
        bound = "positive" if strict else "non-negative"
        extra = " (+inf allowed)" if allow_inf else " and finite"
        raise ValueRangeError(f"{name} must be {bound}{extra}")


def _square(x: torch.Tensor, name: str, layout: str = "[..., D, D]") -> int:
    check_last_dims(x, (None, None), name, layout)
    if x.shape[-1] != x.shape[-2] or x.shape[-1] < 1:
        raise ShapeError(f"{name} must have shape {layout} (square), got shape {tuple(x.shape)}")
    if x.is_complex():
        raise ValueRangeError(f"{name} must be real, got {x.dtype}")
    return int(x.shape[-1])


def _common(*xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
    dt = xs[0].dtype
    for x in xs[1:]:
        dt = torch.promote_types(dt, x.dtype)
    if not dt.is_floating_point:
        dt = torch.get_default_dtype()
    return tuple(x.to(dt) for x in xs)


def spd_inverse(x: torch.Tensor) -> torch.Tensor:
    r"""Inverse of a batch of symmetric positive-definite matrices, equilibrated and symmetrized.

    With :math:`\mathbf S = \operatorname{diag}(x_{ii})^{-1/2}`,
    :math:`\mathbf X^{-1} = \mathbf S(\mathbf S\mathbf X\mathbf S)^{-1}\mathbf S`; the scaled
    matrix has a unit diagonal, so entries of very different scale (angle information 1e15,
    range information 1e5) do not lose precision. The result is symmetrized.

    Parameters
    ----------
    x : torch.Tensor
        ``[..., D, D]`` real, symmetric positive definite.

    Returns
    -------
    torch.Tensor
        ``[..., D, D]`` real, same dtype.
    """
    _square(x, "x")
    s = torch.diagonal(x, dim1=-2, dim2=-1).rsqrt()  # [..., D]
    scaled = x * s[..., :, None] * s[..., None, :]
    inv = torch.linalg.inv(scaled) * s[..., :, None] * s[..., None, :]
    return 0.5 * (inv + inv.mT)


# ----------------------------------------------------------------------------------------------
# Π = ∂(b aᴴ)/∂φ


def angle_derivative_matrix(
    u: torch.Tensor | float,
    num_tx: int,
    num_rx: int,
    *,
    reference: Reference = "first",
    spacing: float = 0.5,
    sign: int = -1,
    normalize: bool = True,
) -> torch.Tensor:
    r"""Derivative of the two-way steering matrix, :math:`\mathbf\Pi = \partial(\mathbf b(u)
    \mathbf a^H(u))/\partial u = \dot{\mathbf b}\mathbf a^H + \mathbf b\dot{\mathbf a}^H`.

    The matrix of the sensing constraint (37) and of the angle information (35), with
    :math:`\mathbf a, \mathbf b` of eqs. (4)/(5) (:func:`isaclearn.arrays.ula_u`).

    Parameters
    ----------
    u : torch.Tensor or float
        Direction cosines :math:`\varphi\in[-1, 1]`, ``[...]``, real.
    num_tx, num_rx : int
        Transmit (``N_t``) and receive (``N_r``) elements.
    reference, spacing, sign, normalize
        Array convention of both ULAs (:func:`isaclearn.arrays.ula_u`); the defaults are
        eqs. (4)/(5): first-element reference, half-wavelength, phase sign −, norm 1.

    Returns
    -------
    torch.Tensor
        ``[..., N_r, N_t]`` complex (``complex128`` for ``float64`` ``u``).

    Notes
    -----
    The phase reference enters :math:`\mathbf b\mathbf a^H` only through the factor
    :math:`e^{j\pi u(N_r - N_t)/2}` (centre vs first element). With ``N_t = N_r`` the matrix,
    and so :math:`\|\mathbf\Pi\mathbf f\|^2` for every ``f``, does not depend on the reference;
    with ``N_t != N_r`` it does (spec §6.7). With the defaults and ``N_t = N_r = N``,
    :math:`\|\mathbf\Pi\mathbf a(u)\|^2 = \lambda_{max}(\mathbf\Pi^H\mathbf\Pi)
    = \pi^2(N^2-1)/12` for every ``u`` (841.38 at ``N = 32``).

    Examples
    --------
    >>> import torch
    >>> pi = angle_derivative_matrix(torch.tensor(0.3, dtype=torch.float64), 32, 32)
    >>> a = ula_u(32, torch.tensor(0.3, dtype=torch.float64))
    >>> round(float(beam_angle_power(pi, a)), 2)
    841.38
    """
    conv = {"reference": reference, "spacing": spacing, "sign": sign, "normalize": normalize}
    a = ula_u(num_tx, u, **conv)  # type: ignore[arg-type]
    da = ula_u_derivative(num_tx, u, **conv)  # type: ignore[arg-type]
    b = ula_u(num_rx, u, **conv)  # type: ignore[arg-type]
    db = ula_u_derivative(num_rx, u, **conv)  # type: ignore[arg-type]
    return db[..., :, None] * a.conj()[..., None, :] + b[..., :, None] * da.conj()[..., None, :]


def angle_derivative_gram(pi: torch.Tensor) -> torch.Tensor:
    r"""Gram matrix :math:`\mathbf\Pi^H\mathbf\Pi`, ``[..., N_t, N_t]`` complex Hermitian, so
    that :math:`\|\mathbf\Pi\mathbf f\|^2 = \mathbf f^H\mathbf\Pi^H\mathbf\Pi\mathbf f`.

    Parameters
    ----------
    pi : torch.Tensor
        ``[..., N_r, N_t]`` complex (:func:`angle_derivative_matrix`).
    """
    check_last_dims(pi, (None, None), "pi", "[..., N_r, N_t]")
    return herm(pi) @ pi


def beam_angle_power(pi: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    r""":math:`\|\mathbf\Pi\mathbf f\|^2`, the beam's angle-information factor (37), ``[...]``.

    Parameters
    ----------
    pi : torch.Tensor
        ``[..., N_r, N_t]`` complex.
    f : torch.Tensor
        Beams ``[..., N_t]`` complex (broadcast against ``pi``'s batch).

    Returns
    -------
    torch.Tensor
        ``[...]`` real.
    """
    check_last_dims(pi, (None, None), "pi", "[..., N_r, N_t]")
    check_last_dims(f, (None,), "f", "[..., N_t]")
    if f.shape[-1] != pi.shape[-1]:
        raise ShapeError(f"f [..., N_t] and pi [..., N_r, N_t] disagree on N_t: f has shape "
                         f"{tuple(f.shape)}, pi has shape {tuple(pi.shape)}")
    dt = torch.promote_types(pi.dtype, f.dtype)
    return abs_sq((pi.to(dt) @ f.to(dt)[..., None])[..., 0]).sum(-1)


def angle_information_max(
    u: torch.Tensor | float,
    num_tx: int,
    num_rx: int,
    *,
    reference: Reference = "first",
    spacing: float = 0.5,
    sign: int = -1,
    normalize: bool = True,
) -> torch.Tensor:
    r""":math:`\lambda_{max}(\mathbf\Pi^H\mathbf\Pi)`, the largest :math:`\|\mathbf\Pi\mathbf f\|^2`
    over unit-norm beams, in closed form.

    :math:`\mathbf\Pi = \mathbf U\mathbf V^H` with :math:`\mathbf U = [\dot{\mathbf b},
    \mathbf b]`, :math:`\mathbf V = [\mathbf a, \dot{\mathbf a}]` has rank ≤ 2, so the nonzero
    eigenvalues of :math:`\mathbf\Pi^H\mathbf\Pi` are those of the 2 × 2 product
    :math:`\mathbf P = (\mathbf U^H\mathbf U)(\mathbf V^H\mathbf V)`:
    :math:`\lambda_{max} = \tfrac{p_{11}+p_{22}}{2}
    + \sqrt{(\tfrac{p_{11}-p_{22}}{2})^2 + p_{12}p_{21}}`.

    Parameters
    ----------
    u, num_tx, num_rx, reference, spacing, sign, normalize
        As in :func:`angle_derivative_matrix`.

    Returns
    -------
    torch.Tensor
        ``[...]`` real. With a beam power budget ``P`` the largest achievable value is
        ``P * angle_information_max(...)``.
    """
    conv = {"reference": reference, "spacing": spacing, "sign": sign, "normalize": normalize}
    a = ula_u(num_tx, u, **conv)  # type: ignore[arg-type]
    da = ula_u_derivative(num_tx, u, **conv)  # type: ignore[arg-type]
    b = ula_u(num_rx, u, **conv)  # type: ignore[arg-type]
    db = ula_u_derivative(num_rx, u, **conv)  # type: ignore[arg-type]
    uu = torch.stack([db, b], dim=-1)  # [..., N_r, 2]
    vv = torch.stack([a, da], dim=-1)  # [..., N_t, 2]
    p = (herm(uu) @ uu) @ (herm(vv) @ vv)  # [..., 2, 2]
    half_tr = 0.5 * (p[..., 0, 0] + p[..., 1, 1]).real
    disc = (0.25 * (p[..., 0, 0] - p[..., 1, 1]) ** 2 + p[..., 0, 1] * p[..., 1, 0]).real
    return half_tr + disc.clamp_min(0.0).sqrt()


# ----------------------------------------------------------------------------------------------
# measurement information and the PCRB recursion


def angle_information_gain(
    beta_sq: torch.Tensor | float,
    *,
    kappa: torch.Tensor | float,
    gain: torch.Tensor | float,
    sigma_r2: torch.Tensor | float,
    c_f: float = 2.0,
) -> torch.Tensor:
    r"""Angle gain :math:`g_\varphi = c_f\kappa^2|\beta|^2G^2/\sigma_r^2`, so that the angle
    information of a beam is :math:`g_\varphi\|\mathbf\Pi\mathbf f\|^2` (35), (57).

    Parameters
    ----------
    beta_sq : torch.Tensor or float
        :math:`|\beta|^2` (reflection coefficient power, :math:`\beta = \varrho/(2d)`), ``[...]``,
        ≥ 0.
    kappa : torch.Tensor or float
        Array gain :math:`\kappa = \sqrt{N_tN_r}`, ``[...]``, > 0.
    gain : torch.Tensor or float
        Matched-filter gain ``G``, ``[...]``, > 0.
    sigma_r2 : torch.Tensor or float
        :math:`\sigma_r^2` of (15), ``[...]``, > 0.
    c_f : float
        2 (circular complex noise, default) or 1 (the paper's (35) as printed).

    Returns
    -------
    torch.Tensor
        ``[...]`` real (broadcast of the inputs), in 1/(unit of :math:`\|\mathbf\Pi\mathbf f\|^2`).
    """
    if not (c_f > 0 and math.isfinite(c_f)):
        raise ValueRangeError(f"c_f must be positive and finite, got {c_f}")
    b2, k, g, s2 = _reals((beta_sq, "beta_sq"), (kappa, "kappa"), (gain, "gain"),
                          (sigma_r2, "sigma_r2"))
    _check_nonneg(b2, "beta_sq")
    _check_nonneg(k, "kappa", strict=True)
    _check_nonneg(g, "gain", strict=True)
    _check_nonneg(s2, "sigma_r2", strict=True)
    return c_f * k.square() * b2 * g.square() / s2


def measurement_information(
    pi_f_sq: torch.Tensor | float | None = None,
    *,
    pi: torch.Tensor | None = None,
    f: torch.Tensor | None = None,
    beta_sq: torch.Tensor | float,
    kappa: torch.Tensor | float,
    gain: torch.Tensor | float,
    sigma_r2: torch.Tensor | float,
    sigma_nu2: torch.Tensor | float,
    sigma_mu2: torch.Tensor | float,
    carrier_hz: torch.Tensor | float,
    c_f: float = 2.0,
    speed_of_light: float = SPEED_OF_LIGHT,
) -> torch.Tensor:
    r"""Measurement information :math:`\mathbf H^T\mathbf Q^{-1}\mathbf H` of one echo (35), (22).

    .. math::
        \operatorname{diag}\Big(c_f\frac{\kappa^2|\beta|^2G^2\|\mathbf\Pi\mathbf f\|^2}
        {\sigma_r^2},\;\frac{(2/c)^2}{\sigma_\nu^2},\;\frac{(2f_c/c)^2}{\sigma_\mu^2}\Big)

    Parameters
    ----------
    pi_f_sq : torch.Tensor or float, optional
        :math:`\|\mathbf\Pi\mathbf f\|^2`, ``[...]``, ≥ 0. Give either this or ``pi`` and ``f``.
    pi, f : torch.Tensor, optional
        :math:`\mathbf\Pi` ``[..., N_r, N_t]`` and the beam ``[..., N_t]`` (complex).
    beta_sq, kappa, gain, sigma_r2, c_f
        As in :func:`angle_information_gain`.
    sigma_nu2 : torch.Tensor or float
        Delay noise variance :math:`\sigma_\nu^2` of (16), s², ``[...]``, > 0; ``+inf`` means no
        informative echo (zero range information).
    sigma_mu2 : torch.Tensor or float
        Doppler noise variance :math:`\sigma_\mu^2` of (17), Hz², ``[...]``, > 0; ``+inf``
        allowed as for ``sigma_nu2``.
    carrier_hz : torch.Tensor or float
        Carrier frequency :math:`f_c` in Hz.
    speed_of_light : float
        ``c`` in m/s.

    Returns
    -------
    torch.Tensor
        ``[..., 3, 3]`` real diagonal, in units of 1/(state unit)²: (1, 1/m², s²/m²).

    Raises
    ------
    ConfigError
        If neither or both of ``pi_f_sq`` and (``pi``, ``f``) are given.
    ValueRangeError
        Negative or NaN variances or gains.

    Examples
    --------
    >>> j = measurement_information(1.0, beta_sq=1.0, kappa=1.0, gain=1.0, sigma_r2=2.0,
    ...                             sigma_nu2=float("inf"), sigma_mu2=1.0, carrier_hz=0.0)
    >>> torch.diagonal(j)
    tensor([1., 0., 0.])
    """
    if (pi_f_sq is None) == (pi is None and f is None):
        raise ConfigError("give either pi_f_sq or both pi and f to measurement_information")
    if pi_f_sq is None:
        if pi is None or f is None:
            raise ConfigError("pi and f must be given together to measurement_information")
        pf = beam_angle_power(pi, f)
    else:
        (pf,) = _reals((pi_f_sq, "pi_f_sq"))
    if not (speed_of_light > 0 and math.isfinite(speed_of_light)):
        raise ValueRangeError(f"speed_of_light must be positive, got {speed_of_light}")
    pf, b2, k, g, s2, s_nu, s_mu, fc = _reals(
        (pf, "pi_f_sq"), (beta_sq, "beta_sq"), (kappa, "kappa"), (gain, "gain"),
        (sigma_r2, "sigma_r2"), (sigma_nu2, "sigma_nu2"), (sigma_mu2, "sigma_mu2"),
        (carrier_hz, "carrier_hz"))
    g_phi = angle_information_gain(b2, kappa=k, gain=g, sigma_r2=s2, c_f=c_f)
    _check_nonneg(pf, "pi_f_sq")
    _check_nonneg(s_nu, "sigma_nu2", strict=True, allow_inf=True)
    _check_nonneg(s_mu, "sigma_mu2", strict=True, allow_inf=True)
    _check_nonneg(fc, "carrier_hz")
    j11 = g_phi * pf
    j22 = (2.0 / speed_of_light) ** 2 / s_nu  # x / inf = 0: no echo, no information
    j33 = (2.0 * fc / speed_of_light).square() / s_mu
    j11, j22, j33 = torch.broadcast_tensors(j11, j22, j33)
    return torch.diag_embed(torch.stack([j11, j22, j33], dim=-1))


def predicted_mse(
    m_prev: torch.Tensor, g_jac: torch.Tensor, process_cov: torch.Tensor
) -> torch.Tensor:
    r"""Prior (predicted) MSE matrix :math:`\hat{\mathbf M}_n = \mathbf G_n\tilde{\mathbf
    M}_{n-1}\mathbf G_n^T + \mathbf E` (25).

    Parameters
    ----------
    m_prev : torch.Tensor
        :math:`\tilde{\mathbf M}_{n-1}`, ``[..., D, D]`` real symmetric PSD.
    g_jac : torch.Tensor
        Jacobian :math:`\mathbf G_n` of the transition ``g`` (19)/(20), ``[..., D, D]`` real.
    process_cov : torch.Tensor
        :math:`\mathbf E` (18), ``[..., D, D]`` real symmetric PSD (``0`` gives (36) as printed).

    Returns
    -------
    torch.Tensor
        ``[..., D, D]`` (broadcast batch), symmetrized.
    """
    d = _square(m_prev, "m_prev")
    for x, name in ((g_jac, "g_jac"), (process_cov, "process_cov")):
        if _square(x, name) != d:
            raise ShapeError(f"{name} must be [..., {d}, {d}] like m_prev, got shape "
                             f"{tuple(x.shape)}")
    m_prev, g_jac, process_cov = _common(m_prev, g_jac, process_cov)
    out = g_jac @ m_prev @ g_jac.mT + process_cov
    return 0.5 * (out + out.mT)


def pcrb_step(
    m_prev: torch.Tensor,
    g_jac: torch.Tensor,
    process_cov: torch.Tensor,
    j_meas: torch.Tensor,
) -> torch.Tensor:
    r"""One step of the PCRB recursion (35) with process noise (spec §6.4).

    .. math::
        \tilde{\mathbf M}_n = \big(\mathbf J^{meas}_n + (\mathbf G_n\tilde{\mathbf M}_{n-1}
        \mathbf G_n^T + \mathbf E)^{-1}\big)^{-1}

    Parameters
    ----------
    m_prev : torch.Tensor
        :math:`\tilde{\mathbf M}_{n-1}`, ``[..., D, D]`` real SPD (``D = 3`` for ding_dt).
    g_jac : torch.Tensor
        :math:`\mathbf G_n`, ``[..., D, D]`` real.
    process_cov : torch.Tensor
        :math:`\mathbf E`, ``[..., D, D]`` real; :math:`\hat{\mathbf M}_n` must be SPD.
    j_meas : torch.Tensor
        :math:`\mathbf H^T\mathbf Q^{-1}\mathbf H`, ``[..., D, D]`` real symmetric PSD
        (:func:`measurement_information`).

    Returns
    -------
    torch.Tensor
        :math:`\tilde{\mathbf M}_n`, ``[..., D, D]`` (broadcast batch), symmetric.

    Examples
    --------
    >>> import torch
    >>> eye = torch.eye(3, dtype=torch.float64)
    >>> torch.diagonal(pcrb_step(eye, eye, 0 * eye, eye))
    tensor([0.5000, 0.5000, 0.5000], dtype=torch.float64)
    """
    m_hat = predicted_mse(m_prev, g_jac, process_cov)
    if _square(j_meas, "j_meas") != m_hat.shape[-1]:
        raise ShapeError(f"j_meas must be [..., D, D] like m_prev, got shape "
                         f"{tuple(j_meas.shape)}")
    m_hat, j_meas = _common(m_hat, j_meas)
    return spd_inverse(j_meas + spd_inverse(m_hat))


def pcrb_recursion(
    m0: torch.Tensor,
    g_jacs: torch.Tensor,
    process_cov: torch.Tensor,
    j_meas: torch.Tensor,
) -> torch.Tensor:
    r"""The PCRB recursion (35) over ``T`` slots: :math:`\tilde{\mathbf M}_1, \dots,
    \tilde{\mathbf M}_T` from :math:`\tilde{\mathbf M}_0` (:func:`pcrb_step` in a loop over
    time, which the recursion forces; everything else is batched).

    Parameters
    ----------
    m0 : torch.Tensor
        :math:`\tilde{\mathbf M}_0`, ``[..., D, D]``.
    g_jacs : torch.Tensor
        :math:`\mathbf G_1, \dots, \mathbf G_T`, ``[T, ..., D, D]``.
    process_cov : torch.Tensor
        :math:`\mathbf E`: shared, ``[..., D, D]`` with fewer dimensions than ``g_jacs``; or per
        slot, ``[T, ..., D, D]`` (as many dimensions as ``g_jacs``, leading size ``T`` or 1).
    j_meas : torch.Tensor
        :math:`\mathbf J^{meas}_1, \dots, \mathbf J^{meas}_T`, ``[T, ..., D, D]``.

    Returns
    -------
    torch.Tensor
        ``[T, ..., D, D]``: entry ``t`` is :math:`\tilde{\mathbf M}_{t+1}`.
    """
    _square(m0, "m0")
    _square(g_jacs, "g_jacs", "[T, ..., D, D]")
    _square(j_meas, "j_meas", "[T, ..., D, D]")
    _square(process_cov, "process_cov")
    if g_jacs.dim() < 3 or j_meas.dim() < 3:
        raise ShapeError(f"g_jacs and j_meas must have shape [T, ..., D, D], got shapes "
                         f"{tuple(g_jacs.shape)} and {tuple(j_meas.shape)}")
    t_len = g_jacs.shape[0]
    if j_meas.shape[0] != t_len:
        raise ShapeError(f"g_jacs and j_meas must have the same number of slots T, got "
                         f"{t_len} and {j_meas.shape[0]}")
    per_slot = process_cov.dim() == g_jacs.dim()
    if per_slot and process_cov.shape[0] not in (1, t_len):
        raise ShapeError(f"a per-slot process_cov must have leading size T = {t_len} or 1, "
                         f"got shape {tuple(process_cov.shape)}")
    out = []
    m = m0
    for t in range(t_len):
        e = process_cov[t if process_cov.shape[0] == t_len else 0] if per_slot else process_cov
        m = pcrb_step(m, g_jacs[t], e, j_meas[t])
        out.append(m)
    if t_len == 0:
        return torch.empty((0, *m0.shape), dtype=m0.dtype, device=m0.device)
    return torch.stack(out, dim=0)


def pcrb_std(m: torch.Tensor) -> torch.Tensor:
    r"""Root of the PCRB diagonal, :math:`\sqrt{\tilde m^{(ii)}}`, ``[..., D]``: for ding_dt
    (angle cosine, range in m, radial speed in m/s).

    Parameters
    ----------
    m : torch.Tensor
        ``[..., D, D]`` real.
    """
    _square(m, "m")
    return torch.diagonal(m, dim1=-2, dim2=-1).clamp_min(0.0).sqrt()


def rcrb(m: torch.Tensor) -> torch.Tensor:
    r"""Root CRB of the range (Fig. 11), :math:`\sqrt{\tilde m^{(22)}}` in metres, ``[...]``.

    The angle entry the constraint (37) uses is ``pcrb_std(m)[..., 0]``.

    Parameters
    ----------
    m : torch.Tensor
        ``[..., 3, 3]`` real PCRB matrices (:func:`pcrb_step`).
    """
    check_last_dims(m, (3, 3), "m", "[..., 3, 3]")
    return pcrb_std(m)[..., 1]


# ----------------------------------------------------------------------------------------------
# the sensing threshold Λ


def _threshold_inputs(
    m_prev_11: torch.Tensor | float,
    m_pred: torch.Tensor,
    j_meas: torch.Tensor,
    angle_gain: torch.Tensor | float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    d = _square(m_pred, "m_pred")
    if _square(j_meas, "j_meas") != d:
        raise ShapeError(f"j_meas must be [..., {d}, {d}] like m_pred, got shape "
                         f"{tuple(j_meas.shape)}")
    m_pred, j_meas, m11, gphi = _reals((m_pred, "m_pred"), (j_meas, "j_meas"),
                                       (m_prev_11, "m_prev_11"), (angle_gain, "angle_gain"))
    _check_nonneg(m11, "m_prev_11", strict=True)
    _check_nonneg(gphi, "angle_gain", strict=True)
    return m11, m_pred, j_meas, gphi


def _omega(m_pred: torch.Tensor, j_meas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Ω of (54) without the f-dependent measurement part of ω₁₁, and [M̂⁻¹]."""
    prior_info = spd_inverse(m_pred)
    no_angle = torch.ones_like(j_meas)
    no_angle[..., 0, 0] = 0.0
    return prior_info + j_meas * no_angle, prior_info


def sensing_threshold(
    m_prev_11: torch.Tensor | float,
    m_pred: torch.Tensor,
    j_meas: torch.Tensor,
    angle_gain: torch.Tensor | float,
) -> torch.Tensor:
    r"""Sensing threshold Λ of (37), (54)–(58), in the Schur-complement form (spec §3).

    .. math::
        \Lambda = \Big(\frac{1}{\tilde m^{(11)}_{n-1}}
        + \boldsymbol\omega_{1,2:D}\mathbf\Omega_{2:D}^{-1}\boldsymbol\omega_{2:D,1}
        - [\hat{\mathbf M}_n^{-1}]_{11}\Big)\frac{1}{g_\varphi},\qquad
        \mathbf\Omega = \hat{\mathbf M}_n^{-1} + \mathbf J^{meas}_n
        - [\mathbf J^{meas}_n]_{11}\mathbf e_1\mathbf e_1^T,

    so that :math:`\tilde m^{(11)}_n \le \tilde m^{(11)}_{n-1}` iff
    :math:`\|\mathbf\Pi\mathbf f\|^2 \ge \Lambda` (see the module docstring).

    Parameters
    ----------
    m_prev_11 : torch.Tensor or float
        :math:`\tilde m^{(11)}_{n-1}`, the previous slot's angle PCRB, ``[...]``, > 0
        (``(1 + eps_s) * m_prev_11`` for the spec's "slack" mode).
    m_pred : torch.Tensor
        :math:`\hat{\mathbf M}_n = \mathbf G_n\tilde{\mathbf M}_{n-1}\mathbf G_n^T + \mathbf E`
        (:func:`predicted_mse`), ``[..., D, D]`` real SPD.
    j_meas : torch.Tensor
        Measurement information of slot ``n`` (:func:`measurement_information`, with
        :math:`\sigma_\nu^2, \sigma_\mu^2` at :math:`|\eta| = 1` for the design),
        ``[..., D, D]``. Its (1, 1) entry, the only one that depends on ``f``, is ignored; its
        other entries of row and column 1 are taken as independent of ``f`` (zero for (22)).
    angle_gain : torch.Tensor or float
        :math:`g_\varphi = c_f\kappa^2|\beta_n|^2G^2/\sigma_r^2`
        (:func:`angle_information_gain`), ``[...]``, > 0.

    Returns
    -------
    torch.Tensor
        Λ, ``[...]`` real, in the unit of :math:`\|\mathbf\Pi\mathbf f\|^2`. ``Λ ≤ 0``: the
        constraint is inactive; ``Λ > P λ_max(ΠᴴΠ)``: infeasible (:func:`sensing_status`).
    """
    m11, m_pred, j_meas, gphi = _threshold_inputs(m_prev_11, m_pred, j_meas, angle_gain)
    omega, prior_info = _omega(m_pred, j_meas)
    if omega.shape[-1] > 1:
        w12 = omega[..., 0:1, 1:]  # [..., 1, D-1]
        sol = torch.linalg.solve(omega[..., 1:, 1:], omega[..., 1:, 0:1])  # Ω₂:D⁻¹ ω₂:D,1
        schur = (w12 @ sol)[..., 0, 0]
    else:
        schur = torch.zeros_like(omega[..., 0, 0])
    return (1.0 / m11 + schur - prior_info[..., 0, 0]) / gphi


def sensing_threshold_literal(
    m_prev_11: torch.Tensor | float,
    m_pred: torch.Tensor,
    j_meas: torch.Tensor,
    angle_gain: torch.Tensor | float,
    *,
    as_printed: bool = False,
) -> torch.Tensor:
    r"""Λ by the explicit 3 × 3 cofactor formulas of (55)–(58) (a test reference for
    :func:`sensing_threshold`).

    With :math:`C_{12} = \omega_{21}\omega_{33}-\omega_{23}\omega_{31}`,
    :math:`C_{13} = \omega_{21}\omega_{32}-\omega_{22}\omega_{31}`,
    :math:`D_{23} = \omega_{22}\omega_{33}-\omega_{23}\omega_{32}`, the inequality
    :math:`D_{23}/\det\mathbf\Omega \le \tilde m^{(11)}_{n-1}` (55) solved for
    :math:`\omega_{11}` gives

    .. math::
        \Lambda = \Big(\frac{\omega_{12}C_{12} - \omega_{13}C_{13}
        + D_{23}/\tilde m^{(11)}_{n-1}}{D_{23}} - [\hat{\mathbf M}^{-1}]_{11}\Big)
        \frac{1}{g_\varphi}.

    Parameters
    ----------
    m_prev_11, m_pred, j_meas, angle_gain
        As in :func:`sensing_threshold`, with ``D = 3``.
    as_printed : bool
        If True, reproduce the printed (56)–(58) (!): ``+ ω₁₃ C₁₃`` instead of ``− ω₁₃ C₁₃``,
        and :math:`\hat m^{(11)}` (the (1, 1) entry of :math:`\hat{\mathbf M}`) instead of
        :math:`[\hat{\mathbf M}^{-1}]_{11}`. Only to show the defect; it does not encode
        :math:`\tilde m^{(11)}_n \le \tilde m^{(11)}_{n-1}`.

    Returns
    -------
    torch.Tensor
        Λ, ``[...]`` real.
    """
    check_last_dims(m_pred, (3, 3), "m_pred", "[..., 3, 3]")
    m11, m_pred, j_meas, gphi = _threshold_inputs(m_prev_11, m_pred, j_meas, angle_gain)
    omega, prior_info = _omega(m_pred, j_meas)

    def w(i: int, j: int) -> torch.Tensor:
        return omega[..., i - 1, j - 1]

    c12 = w(2, 1) * w(3, 3) - w(2, 3) * w(3, 1)
    c13 = w(2, 1) * w(3, 2) - w(2, 2) * w(3, 1)
    d23 = w(2, 2) * w(3, 3) - w(2, 3) * w(3, 2)
    s13 = 1.0 if as_printed else -1.0
    m_hat_11 = m_pred[..., 0, 0] if as_printed else prior_info[..., 0, 0]
    return ((w(1, 2) * c12 + s13 * w(1, 3) * c13 + d23 / m11) / d23 - m_hat_11) / gphi


class SensingStatus(NamedTuple):
    """Masks of the sensing constraint (37) per vehicle (:func:`sensing_status`)."""

    inactive: torch.Tensor
    """``Λ ≤ 0``: every beam meets the constraint."""
    infeasible: torch.Tensor
    """``Λ > λ_max``: no beam within the power budget meets it."""


def sensing_status(lam: torch.Tensor, lam_max: torch.Tensor | float) -> SensingStatus:
    r"""Status of the sensing constraint :math:`\|\mathbf\Pi\mathbf f\|^2\ge\Lambda` (37).

    Parameters
    ----------
    lam : torch.Tensor
        Λ, ``[...]`` (:func:`sensing_threshold`).
    lam_max : torch.Tensor or float
        Largest achievable :math:`\|\mathbf\Pi\mathbf f\|^2`: ``P * angle_information_max(...)``
        for beams with :math:`\|\mathbf f\|^2\le P`, ``[...]``.

    Returns
    -------
    SensingStatus
        ``inactive = lam <= 0`` and ``infeasible = lam > lam_max``, both ``[...]`` bool.

    Examples
    --------
    >>> import torch
    >>> sensing_status(torch.tensor([-1.0, 0.5, 2.0]), 1.0)
    SensingStatus(inactive=tensor([ True, False, False]), infeasible=tensor([False, False,  True]))
    """
    lam, lm = _reals((lam, "lam"), (lam_max, "lam_max"))
    return SensingStatus(inactive=lam <= 0, infeasible=lam > lm)
