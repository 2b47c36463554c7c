"""Reinforcement learning (not yet built): batched torch environment cores, their Gymnasium
faces and Stable-Baselines3 adapter, rollouts shared with classical designers, and the papers'
agents. The liu_irs_ppo issue builds it."""
