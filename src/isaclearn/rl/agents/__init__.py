"""The papers' agents: their policy distributions, networks, losses and return estimators.

Building blocks of the primal-dual PPO / DPPO agents of liu_irs_ppo (``shared/papers/001_...txt``),
written so that later systems reuse them:

* :mod:`~isaclearn.rl.agents.distributions` — the truncated Gaussian policy;
* :mod:`~isaclearn.rl.agents.networks` — the hybrid actor (continuous ``W``) and the critic with a
  value head and a factorized Q head over IRS phase indices;
* :mod:`~isaclearn.rl.agents.losses` — PPO's clipped and KL-penalized surrogates (27)–(28), the
  value loss, the DQN-style TD target of the Q head and the training diagnostics;
* :mod:`~isaclearn.rl.agents.returns` — discounted returns (25), L-step returns (44) and GAE (via
  Stable-Baselines3).
"""
