"""The environments of the package, registered with Gymnasium under ``isaclearn/...`` when
this module is imported (which ``import isaclearn.rl`` does).

* ``isaclearn/ToyBeam-v0``, ``isaclearn/ToyBeamDict-v0``: :mod:`.toy`, multi-user downlink
  beamforming under channel aging (Box action; directions + MultiDiscrete power levels).
* ``isaclearn/IrsIsacMiso-v0``, ``isaclearn/IrsIsacMimo-v0``: :mod:`.liu_irs_ppo`, IRS-aided
  THz ISAC (Dict action: precoder Box + IRS phase indices MultiDiscrete), 50 steps;
  ``isaclearn/IrsIsacMisoUser-v0`` (the per-user loop of Alg. 1, ``observation="user"``);
  ``isaclearn/IrsIsacMisoBox-v0`` (one Box, quantized-Box IRS phases) and
  ``isaclearn/IrsIsacMisoFixedBox-v0`` (one Box, the IRS held at each episode's V^0) for
  Stable-Baselines3.
* ``isaclearn/YangSom-v0`` (action scheme UU) and ``isaclearn/YangSomAU-v0`` (scheme AU):
  :mod:`.yang_som`, wideband ISAC hybrid precoding under double dynamics (quick sizes; any
  config field, e.g. ``scheme``, is an override of ``gymnasium.make``).

A new environment adds its module here and one :func:`~isaclearn.rl.registry.register_core`
line; the contract test (``tests/rl/test_env_contract.py``) then covers it.
"""

from isaclearn.rl.envs.liu_irs_ppo import (
    IrsIsacEnvConfig,
    IrsIsacMimoCore,
    IrsIsacMimoEnvConfig,
    IrsIsacMisoCore,
)
from isaclearn.rl.envs.toy import ToyBeamConfig, ToyBeamCore, ToyBeamEpisodes
from isaclearn.rl.envs.yang_som import YangSomConfig, YangSomCore, YangSomEpisodes
from isaclearn.rl.registry import register_core

__all__ = ["IrsIsacEnvConfig", "IrsIsacMimoCore", "IrsIsacMimoEnvConfig", "IrsIsacMisoCore",
           "ToyBeamConfig", "ToyBeamCore", "ToyBeamEpisodes", "YangSomConfig", "YangSomCore",
           "YangSomEpisodes"]

register_core("isaclearn/ToyBeam-v0", "isaclearn.rl.envs.toy:ToyBeamCore")
register_core("isaclearn/ToyBeamDict-v0", "isaclearn.rl.envs.toy:ToyBeamCore", action="dict")

_MISO = "isaclearn.rl.envs.liu_irs_ppo:IrsIsacMisoCore"
register_core("isaclearn/IrsIsacMiso-v0", _MISO, max_episode_steps=50)
register_core("isaclearn/IrsIsacMisoUser-v0", _MISO, max_episode_steps=50,
              observation="user")
register_core("isaclearn/IrsIsacMimo-v0", "isaclearn.rl.envs.liu_irs_ppo:IrsIsacMimoCore",
              max_episode_steps=50)
register_core("isaclearn/IrsIsacMisoBox-v0", "isaclearn.rl.actions:box_action_core",
              max_episode_steps=50, inner=_MISO)
register_core("isaclearn/IrsIsacMisoFixedBox-v0", "isaclearn.rl.actions:box_action_core",
              max_episode_steps=50, inner=_MISO, phases="initial", fixed={"phases": [0] * 16})
register_core("isaclearn/YangSomAU-v0", "isaclearn.rl.envs.yang_som:YangSomCore", scheme="au")
register_core("isaclearn/YangSom-v0", "isaclearn.rl.envs.yang_som:YangSomCore", scheme="uu")
