"""The environments of the package, registered with Gymnasium under ``isaclearn/...`` when
this module is imported (which ``import isaclearn.rl`` does).

* ``isaclearn/ToyBeam-v0``, ``isaclearn/ToyBeamDict-v0``: :mod:`.toy`, multi-user downlink
  beamforming under channel aging (Box action; directions + MultiDiscrete power levels).
* ``isaclearn/YangSom-v0`` (action scheme UU) and ``isaclearn/YangSomAU-v0`` (scheme AU):
  :mod:`.yang_som`, wideband ISAC hybrid precoding under double dynamics (quick sizes; any
  config field, e.g. ``scheme``, is an override of ``gymnasium.make``).

A new environment adds its module here and one :func:`~isaclearn.rl.registry.register_core`
line; the contract test (``tests/rl/test_env_contract.py``) then covers it.
"""

from isaclearn.rl.envs.toy import ToyBeamConfig, ToyBeamCore, ToyBeamEpisodes
from isaclearn.rl.envs.yang_som import YangSomConfig, YangSomCore, YangSomEpisodes
from isaclearn.rl.registry import register_core

__all__ = ["ToyBeamConfig", "ToyBeamCore", "ToyBeamEpisodes", "YangSomConfig", "YangSomCore",
           "YangSomEpisodes"]

register_core("isaclearn/ToyBeam-v0", "isaclearn.rl.envs.toy:ToyBeamCore")
register_core("isaclearn/ToyBeamDict-v0", "isaclearn.rl.envs.toy:ToyBeamCore", action="dict")
register_core("isaclearn/YangSomAU-v0", "isaclearn.rl.envs.yang_som:YangSomCore", scheme="au")
register_core("isaclearn/YangSom-v0", "isaclearn.rl.envs.yang_som:YangSomCore", scheme="uu")
