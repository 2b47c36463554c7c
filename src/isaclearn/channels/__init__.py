"""Batched channel and scene generators."""

from isaclearn.channels.downlink import DownlinkIsacScenario, DownlinkProblem
from isaclearn.channels.rician import ChannelSample, RicianChannel, csi_error

__all__ = ["ChannelSample", "DownlinkIsacScenario", "DownlinkProblem", "RicianChannel", "csi_error"]

from isaclearn.channels.uplink import UplinkProblem, UplinkScenario  # noqa: E402

__all__ += ["UplinkProblem", "UplinkScenario"]
