"""Which designers apply to the temiz_unsup downlink ISAC problem."""

from __future__ import annotations

from typing import Any


def baseline_designers(*, include_convex: bool = True, sdr_sinr_db: float = 0.0) -> dict[str, Any]:
    """The classical designers of the downlink ISAC problem, by name.

    Parameters
    ----------
    include_convex : bool
        Include the CVXPY designers (sensing-only minimum sum-CRB and the SDR trade-off
        reference), which solve one convex program per instance.
    sdr_sinr_db : float
        Per-user SINR target Γ of the SDR trade-off designer.
    """
    from isaclearn.solvers import MMSE, MRT, WMMSE, ZF

    out: dict[str, Any] = {
        "mrt": MRT(),
        "zf": ZF(),
        "mmse": MMSE(),
        "wmmse": WMMSE(),
    }
    if include_convex:
        from isaclearn.solvers import SdrTradeoff, SensingOnly

        out["sensing_only"] = SensingOnly()
        out["sdr"] = SdrTradeoff(sinr_min_db=sdr_sinr_db)
    return out


CONVEX_DESIGNERS = frozenset({"sensing_only", "sdr"})


DESIGNER_NOTES = {
    "mrt": "maximum-ratio transmission",
    "zf": "zero forcing",
    "mmse": "regularized ZF (RZF / MMSE precoder)",
    "wmmse": "WMMSE sum-rate maximization, best of MRT/ZF/RZF starts",
    "sensing_only": "minimum sum CRB (CVXPY SDP per instance)",
    "sdr": "minimum sum CRB s.t. SINR >= target (SDR, CVXPY per instance)",
}
"""One line per designer for ``isaclearn list``."""
