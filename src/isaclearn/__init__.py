"""isaclearn: design, train and compare beamformers for integrated sensing and communication.

Layers (each imports only from the ones listed before it): :mod:`isaclearn.core`,
:mod:`isaclearn.arrays`, :mod:`isaclearn.channels`, :mod:`isaclearn.metrics`,
:mod:`isaclearn.solvers`, :mod:`isaclearn.learn`, :mod:`isaclearn.rl`,
:mod:`isaclearn.systems`, :mod:`isaclearn.experiments` and :mod:`isaclearn.cli`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
