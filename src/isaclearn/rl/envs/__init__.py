"""The environments of the package, registered with Gymnasium under ``isaclearn/...`` when
this module is imported (which ``import isaclearn.rl`` does).

* ``isaclearn/ToyBeam-v0``, ``isaclearn/ToyBeamDict-v0``: :mod:`.toy`, multi-user downlink
  beamforming under channel aging (Box action; directions + MultiDiscrete power levels).

A new environment adds its module here and one :func:`~isaclearn.rl.registry.register_core`
line; the contract test (``tests/rl/test_env_contract.py``) then covers it.
"""

from isaclearn.rl.envs.toy import ToyBeamConfig, ToyBeamCore, ToyBeamEpisodes
from isaclearn.rl.registry import register_core

__all__ = ["ToyBeamConfig", "ToyBeamCore", "ToyBeamEpisodes"]

register_core("isaclearn/ToyBeam-v0", "isaclearn.rl.envs.toy:ToyBeamCore")
register_core("isaclearn/ToyBeamDict-v0", "isaclearn.rl.envs.toy:ToyBeamCore", action="dict")
