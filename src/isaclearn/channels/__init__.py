"""Batched channel and scene generators: downlink and uplink Rician channels, the ding_dt highway
(traffic, kinematics, measurement model, communication rows), the liu_irs_ppo THz links and IRS
scenario, the yang_som doubly-selective OFDM channel with ICI and mobility."""

from isaclearn.channels.downlink import DownlinkIsacScenario, DownlinkProblem
from isaclearn.channels.rician import ChannelSample, RicianChannel, csi_error

__all__ = ["ChannelSample", "DownlinkIsacScenario", "DownlinkProblem", "RicianChannel", "csi_error"]

from isaclearn.channels.uplink import UplinkProblem, UplinkScenario  # noqa: E402

__all__ += ["UplinkProblem", "UplinkScenario"]

from isaclearn.channels.highway import (  # noqa: E402
    HighwayConfig,
    Traffic,
    cartesian_to_state,
    comm_channel,
    constant_traffic,
    handover,
    kinematic_speed,
    measurement_mean,
    measurement_noise_var,
    positions,
    sample_measurement,
    sample_poisson_traffic,
    state_to_cartesian,
    states_at,
    transition,
)

__all__ += ["HighwayConfig", "Traffic", "cartesian_to_state", "comm_channel", "constant_traffic",
            "handover", "kinematic_speed", "measurement_mean", "measurement_noise_var",
            "positions", "sample_measurement", "sample_poisson_traffic", "state_to_cartesian",
            "states_at", "transition"]

from isaclearn.channels.irs import (  # noqa: E402
    IrsIsacConfig,
    IrsIsacProblem,
    IrsIsacScenario,
    cascade_direct_ratio,
    co_phasing_phases,
    effective_channel,
    irs_amplitude,
    phases_from_indices,
    quantize_phases,
    reflection_vector,
)
from isaclearn.channels.thz import ThzLink, absorption_loss, path_gain, spreading_loss  # noqa: E402

__all__ += ["IrsIsacConfig", "IrsIsacProblem", "IrsIsacScenario", "ThzLink", "absorption_loss",
            "cascade_direct_ratio", "co_phasing_phases", "effective_channel", "irs_amplitude",
            "path_gain", "phases_from_indices", "quantize_phases", "reflection_vector",
            "spreading_loss"]

from isaclearn.channels.doubly_selective import (  # noqa: E402
    DoublySelectiveConfig,
    DoublySelectiveFrame,
    frame_ici,
    ici_channel,
    ici_matrix,
    radar_response,
)
from isaclearn.channels.mobility import MobilityConfig, sample_motion  # noqa: E402

__all__ += ["DoublySelectiveConfig", "DoublySelectiveFrame", "MobilityConfig", "frame_ici",
            "ici_channel", "ici_matrix", "radar_response", "sample_motion"]
