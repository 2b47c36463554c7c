"""One module per published system: scenario defaults, applicable methods and experiments.

=================  ============================================================
short name         paper (``shared/papers/``)
=================  ============================================================
``temiz_unsup``    003: unsupervised DNN downlink ISAC precoder
``qi_uplink``      002: uplink ISAC waveform + MMSE receive beamforming, ISACNN
``liu_irs_ppo``    001: IRS-aided THz ISAC, primal-dual PPO / DPPO
``yang_som``       000: wideband vehicular ISAC hybrid precoding, PSAC DRL
``ding_dt``        004: digital-twin vehicular ISAC, EKF, PCRB, Bi-LSTM
=================  ============================================================

Shared by every system: :mod:`isaclearn.systems.base` (what a system declares: its
:class:`~isaclearn.systems.base.SystemSpec` — scenario, problem and design classes,
``evaluate``, metrics, designers, file layout, bench suites — and its experiments, their configs
and profiles, the :class:`~isaclearn.systems.base.RunContext` they report through)
and :mod:`isaclearn.systems.toolkit` (the pieces experiments are built from: a resumable sweep,
scoring a designer into a result row, timing it, finite means and summaries, thread control).
"""

from __future__ import annotations

import importlib

SYSTEM_MODULES = ["temiz_unsup", "qi_uplink", "liu_irs_ppo", "ding_dt", "yang_som"]
"""System packages imported by :func:`load_all` (each registers its SystemSpec)."""

DEFAULT_SYSTEM = "temiz_unsup"
"""The system of ``isaclearn evaluate`` and ``leaderboard`` when ``--system`` is not given."""


def load_all() -> None:
    """Import every implemented system module so that its experiments are registered."""
    for name in SYSTEM_MODULES:
        try:
            importlib.import_module(f"isaclearn.systems.{name}")
        except ModuleNotFoundError as exc:  # a system not written yet
            if exc.name != f"isaclearn.systems.{name}":
                raise


__all__ = ["DEFAULT_SYSTEM", "SYSTEM_MODULES", "load_all"]
