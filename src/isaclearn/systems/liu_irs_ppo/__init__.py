r"""liu_irs_ppo: IRS-aided THz ISAC with primal-dual PPO / DPPO
(``shared/papers/001_f7e139b954787b56.txt``, Liu et al.; specification
``shared/specs/liu_irs_ppo.md``).

A BS with ``M`` antennas serves ``K`` users at 0.55 THz through a direct link and an IRS of
``E`` elements with phase-dependent amplitude (3) and ``b``-bit phases (30); the precoder
``W`` and the IRS phases maximize the sum rate (21)–(24) under the per-antenna power (22) and
the beampattern constraint :math:`L_r \le \ell` (16)–(18). The MDP (Alg. 1) and its batched
env are :mod:`isaclearn.rl.envs.liu_irs_ppo`; the Lagrangian reward and the dual steps
:mod:`isaclearn.rl.primal_dual`.

Pieces: scenario and problem :mod:`isaclearn.channels.irs` (THz links
:mod:`isaclearn.channels.thz`); metrics :mod:`isaclearn.metrics.comm` (rates, ``mimo_rates``),
:mod:`isaclearn.metrics.pattern` (d(ψ), P(ψ), L_r), :mod:`isaclearn.metrics.power`;
baselines :mod:`isaclearn.solvers.irs` (``FixedPhases``, ``without_irs``, ``MimoWmmse``);
scoring :func:`~isaclearn.systems.liu_irs_ppo.evaluation.evaluate`; system spec
:mod:`.system`; experiments ``liu_irs_ppo.{lr, compare, power, beampattern, threshold,
tradeoff, irs_size, mimo_reward, mimo_capacity, mimo_beampattern}`` (:mod:`.experiments`, Figs.
3–12; the agents are PD-PPO and PD-A2C of :mod:`isaclearn.rl.agents.trainers`, DPPO and A3C of
:mod:`isaclearn.rl.dppo`; ``beampattern`` draws the baselines and the trained PD-PPO);
``isaclearn bench rl``
(:mod:`.bench`).

Chosen parameters (spec §1 table: values the paper does not give)
------------------------------------------------------------------
Every one is a field of :class:`~isaclearn.channels.irs.IrsIsacConfig` (scenario) or of
:class:`~isaclearn.rl.envs.liu_irs_ppo.IrsIsacEnvConfig` (env).

* **Sizes:** M = 5, K = 4 (MISO, §VI-A); MIMO N = 4 receive antennas per user, K = 4 (§VI-B);
  IRS E = 16 = 4 × 4 elements (Fig. 9 sweeps {4, 16, 36, 64, 100}); phase bits b = 3, levels
  :math:`2\pi i/2^b` (§6.7).
* **Amplitude (3):** γ_min = 0.2, φ = 0, ε = 1.6 (from [8]).
* **Links (4):** Rician γ_AI = 10, n_NL = 2 NLOS rays at |Γ|² = −10 dB, ray length 1–1.5 × LOS,
  G_t = G_r = 1, spacing λ/2; k_abs = 6.7141e-4 read as m⁻¹ (negligible indoors, §6.18).
* **Geometry:** BS at the origin, IRS centred at (0, 4, 3) m (5 m from the BS), users at 2–10 m
  within ±60° of broadside.
* **Power and noise:** P_max = 10 W (§6.2), per-antenna cap P_max/M (22); σ² set by
  ``snr_db = −8.5`` under the rule "MRT with random V⁰ gives ≈ 1 bit/s/Hz" (§6.13).
* **Direct link:** ``direct_link_db = −60`` dB blockage on H_0 (§6.12).
* **Sensing:** targets −40°, 0°, 40°, Δ = 10° (eq. 17), grid 0.1° (L = 1801), ℓ = 3,
  ``pattern_scale = "none"`` (literal 0/1 mask).
* **MDP:** 50 steps per episode, channels and V⁰ (uniform in [−π/2, π/2]) drawn at reset;
  observation = effective channel × :math:`\sqrt{P_{\max}/\sigma^2}`; action = W reals in
  [−1, 1] scaled by :math:`\sqrt{P_{\max}/M}` and projected onto (22), plus one phase index per
  element; the reward scores W on the channel its phases create; λ = 1, μ = 0 initially.
  Alg. 1's per-user loop ("each user's channel state H_k in turn", §6.14) is the option
  ``--set observation=user`` of the MISO experiments: step ``t`` observes user ``t mod K``'s
  channel and sets its column of ``W`` (equal beamforming 1/√K in every entry of ``U`` at the
  start); the joint observation is the default because with it the policy sees everything its
  reward depends on.
* **Agents (spec §1, §3; :mod:`isaclearn.rl.agents.trainers` defaults):** actor 30 ReLU units
  (tanh mean, softplus std, truncated Gaussian), critic 20 units with V and factorized Q heads,
  Adam 1e-3 / 2e-3, clip 0.2, 10 + 10 update steps, replay batch 32, τ₁…τ₄ = 0.001,
  x_max = 20 bit/s/Hz, DPPO workers = K; the experiments set γ = 0 (``--set gamma=...``,
  "Discount" below; the trainers' own default stays 0.9).

Discount (γ, not given by the paper)
------------------------------------
The reward of step ``t`` scores :math:`\mathbf W^t` on :math:`\mathbf H^{t+1} = \mathbf
H_0^H + \mathbf H_2^H\mathbf V^{t+1}\mathbf H_1`, and :math:`\mathbf V^{t+1}` is set by the
phase action of step ``t`` itself (not accumulated over steps), so :math:`r^t` is a function of
the action :math:`a^t` and the episode's fixed channels only; :math:`\mathbf W` does not enter
the transition at all. For the actor (``W``) the later terms :math:`\gamma^l r^{t+l}` of the
return (25) do not depend on :math:`\mathbf W^t`, so they contribute exactly zero to its
expected policy gradient and only add variance (at γ = 0.9 about nine steps of other actions'
rewards, plus the time to truncation, which the state does not show). The phase action of
step ``t`` reaches later steps only through the observation :math:`\mathbf H^{t+1}` the
policy then sees; the best reward of every later step is fixed by the episode's channels
whatever it was. The experiments therefore use γ = 0 for every agent (advantage
:math:`r^t - v(\mathbf H^t)`, Q target :math:`r^t`). The MorvanZhou value 0.9, used in
earlier runs, is ``--set gamma=0.9``.

The direct-link finding (spec §6.12)
------------------------------------
Even at the default −60 dB blockage, with 16 elements the cascade carries only
:math:`\|\mathbf H_2^H\mathbf V\mathbf H_1\|_F^2/\|\mathbf H_0^H\|_F^2 \approx 1.4\cdot10^{-4}`
of the direct power for random V⁰ (measured over seeded episodes; the spec's estimate of a
comparable cascade assumed N ≈ 100 and coherent combining). The IRS then hardly matters for the
sum rate at the defaults: phase design and the "with/without IRS" gap of Fig. 9 are expected to
be small. We keep the spec's default (it is the settled reading) and report the ratio in every
run's ``summary.json`` (``cascade_direct_ratio_mean``) and in every env step's ``info``, so that
a reader sees how much the IRS can contribute; ``--set direct_link_db=...`` or a larger
``num_irs_elements`` changes it.

Measured results, claim by claim, with the commands behind every number:
``docs/liu_irs_ppo.md``.
"""

from isaclearn.systems.liu_irs_ppo import experiments as experiments  # registers the experiments
from isaclearn.systems.liu_irs_ppo.bench import RL_SUITE, bench_env
from isaclearn.systems.liu_irs_ppo.evaluation import METRIC_UNITS, evaluate, make_scenario
from isaclearn.systems.liu_irs_ppo.system import SYSTEM as SYSTEM  # registers the system

__all__ = ["METRIC_UNITS", "RL_SUITE", "bench_env", "evaluate", "experiments", "make_scenario"]
