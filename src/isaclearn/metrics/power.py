r"""Transmit-power measures: per-antenna power, total power and the per-antenna constraint
(liu_irs_ppo, ``shared/papers/001_...txt``, eq. 22):

.. math::
    [\mathbf R]_{mm} = \sum_k |w_{mk}|^2 \le P_{\max}/M,\qquad \mathbf R = \mathbf W\mathbf W^H.

In MIMO (eq. 43) the constraint holds per user: pass ``w`` ``[B, K, M, N]`` and get per-user
values ``[B, K, M]`` / ``[B, K]``.
"""

from __future__ import annotations

import torch

from isaclearn.core.checks import as_batch_param, check_last_dims
from isaclearn.core.linalg import abs_sq

__all__ = ["per_antenna_power", "per_antenna_violation", "total_power"]


def per_antenna_power(w: torch.Tensor) -> torch.Tensor:
    r"""Diagonal :math:`[\mathbf W\mathbf W^H]_{mm}` of the transmit covariance, ``[..., M]``
    real (watts), for a precoder ``[..., M, K]``.

    Examples
    --------
    >>> per_antenna_power(torch.tensor([[1.0 + 1.0j, 0.0], [0.0, 2.0]]))
    tensor([2., 4.])
    """
    check_last_dims(w, (None, None), "w", "[..., M, K]")
    return abs_sq(w).sum(dim=-1)


def total_power(w: torch.Tensor) -> torch.Tensor:
    r"""Total transmit power :math:`\mathrm{tr}(\mathbf W\mathbf W^H)`, ``[...]`` real."""
    return per_antenna_power(w).sum(dim=-1)


def per_antenna_violation(w: torch.Tensor, p_max: torch.Tensor | float) -> torch.Tensor:
    r"""Violation of (22): :math:`\max_m \max(0, [\mathbf W\mathbf W^H]_{mm} - P_{\max}/M)`,
    ``[...]`` real (watts; 0 when feasible).

    Parameters
    ----------
    w : torch.Tensor
        Precoder ``[..., M, K]``.
    p_max : float or torch.Tensor
        :math:`P_{\max}` in watts, a positive scalar or ``[...]``.
    """
    check_last_dims(w, (None, None), "w", "[..., M, K]")
    p = as_batch_param(p_max, w, "p_max")
    excess = per_antenna_power(w) - (p / w.shape[-2])[..., None]
    return excess.clamp_min(0.0).amax(dim=-1)
