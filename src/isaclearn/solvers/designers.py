"""Communication-only designers of the downlink problem: MRT, ZF, MMSE and WMMSE.

Each class stores its hyperparameters and does nothing else; ``design(problem)`` reads the
channel the designer may use (:attr:`DownlinkProblem.csi`, the estimate when CSI is imperfect),
the power budget and the noise variance, and returns a :class:`~isaclearn.core.Design` with
``w`` ``[B, M, K]``, ``||w||_F^2 = P``. They ignore the sensing targets.

Examples
--------
>>> import torch
>>> from isaclearn.channels import DownlinkIsacScenario
>>> from isaclearn.core import make_generator
>>> problem = DownlinkIsacScenario().sample(4, generator=make_generator(0))
>>> WMMSE(max_iter=10).design(problem).w.shape
torch.Size([4, 10, 10])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from isaclearn.channels.downlink import DownlinkProblem
from isaclearn.core.design import Design
from isaclearn.solvers.linear import mmse, mrt, zf
from isaclearn.solvers.wmmse import wmmse

__all__ = ["MMSE", "MRT", "WMMSE", "ZF"]


@dataclass
class MRT:
    """Maximum-ratio transmission, :func:`isaclearn.solvers.mrt`."""

    name: str = field(default="mrt", init=False, repr=False)

    def design(self, problem: DownlinkProblem) -> Design:
        """Precoder ``[B, M, K]`` for ``problem`` (uses ``problem.csi``, ``problem.power``)."""
        return Design(w=mrt(problem.csi, problem.power))


@dataclass
class ZF:
    """Zero-forcing, :func:`isaclearn.solvers.zf` (needs ``K <= M``)."""

    name: str = field(default="zf", init=False, repr=False)

    def design(self, problem: DownlinkProblem) -> Design:
        """Precoder ``[B, M, K]`` for ``problem`` (uses ``problem.csi``, ``problem.power``)."""
        return Design(w=zf(problem.csi, problem.power))


@dataclass
class MMSE:
    """MMSE / regularized ZF, :func:`isaclearn.solvers.mmse`.

    Attributes
    ----------
    reg : float or None
        Regularizer replacing ``K σ² / P`` (``None``: the MMSE value).
    """

    reg: float | None = None
    name: str = field(default="mmse", init=False, repr=False)

    def design(self, problem: DownlinkProblem) -> Design:
        """Precoder ``[B, M, K]`` for ``problem`` (uses ``csi``, ``power``, ``noise_var``)."""
        return Design(w=mmse(problem.csi, problem.power, problem.noise_var, reg=self.reg))


@dataclass
class WMMSE:
    """Sum-rate WMMSE of Shi et al. 2011, :func:`isaclearn.solvers.wmmse`.

    Attributes
    ----------
    init : {"best", "mrt", "zf", "rzf"}
        Initialization (``"best"``: the best of the runs from MRT, RZF and ZF per instance).
    max_iter : int
        Maximum number of iterations.
    tol : float
        Relative objective improvement below which an instance counts as converged.
    weights : torch.Tensor or None
        Rate weights ``[K]`` (``None``: sum rate).
    """

    init: str = "best"
    max_iter: int = 100
    tol: float = 1e-6
    weights: torch.Tensor | None = None
    name: str = field(default="wmmse", init=False, repr=False)

    def design(self, problem: DownlinkProblem) -> Design:
        """Precoder ``[B, M, K]`` for ``problem`` (uses ``csi``, ``power``, ``noise_var``).

        ``info`` holds ``iterations`` (int), ``init_used`` (list of str, one per instance),
        ``objective`` (``[B, iterations + 1]`` weighted sum rate trace in bit/s/Hz, computed on
        ``csi``) and ``converged`` (``[B]`` bool).
        """
        w, info = wmmse(
            problem.csi,
            problem.power,
            problem.noise_var,
            init=self.init,
            max_iter=self.max_iter,
            tol=self.tol,
            weights=self.weights,
            return_info=True,
        )
        return Design(
            w=w,
            info={
                "iterations": info.iterations,
                "init_used": info.init_used,
                "objective": info.objective,
                "converged": info.converged,
            },
        )
