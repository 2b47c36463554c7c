r"""The learned methods of yang_som (``shared/papers/000_...txt``, Sec. V–VI, Fig. 5, Alg. 2;
spec ``shared/specs/yang_som.md`` §4): training, resumable checkpoints and the trained policies
as rollout agents.

Methods (the ``method`` column)
-------------------------------
=========  ======================  ===============  =============================================
method     agent                   action scheme    state encoder inputs
=========  ======================  ===============  =============================================
drl_uu     PSAC                    UU (30)–(32)     ``S_H`` + ``S_P`` (PC)
drl_au     PSAC                    AU (33)–(37)     ``S_H`` + ``S_P`` (PC)
drl_pc     PSAC                    UU               ``S_H`` + ``S_P``
drl_po     PSAC                    UU               ``S_P`` only (the ``S_H`` stream dropped)
drl_co     PSAC                    UU               ``S_H`` only (the ``S_P`` stream dropped)
ac         SB3 DDPG (or TD3)       ``env_kwargs``   ``S_H`` + ``S_P``, one encoder copy in the
                                   (default UU)     actor and one in the critic (not shared)
dqn        SB3 DQN                 codeword         ``S_H`` + ``S_P``
=========  ======================  ===============  =============================================

The PC/PO/CO comparison uses UU (spec §3, unstated in the paper); ``drl_pc`` is therefore the
same agent as ``drl_uu`` (kept as its own name for Fig. 6b's rows). The PSAC action decoder has
one head per action part in the environment's order (:func:`psac_heads`); the
:math:`a_{RF}` heads are sigmoids emitted as :math:`2s - 1` (``box_affine``) because the
environment reads those parts of its ``Box(-1, 1)`` action as :math:`(x + 1)/2`: the environment
receives the sigmoid's :math:`s` (the paper's :math:`a_{RF} \in (0, 1)`). The DQN's action is
the authors' (spec §4): ``Discrete(U^max G_t)``, index :math:`uG_t + g` replaces column
:math:`u` of :math:`\mathbf F_{RF}` by the quantized codeword :math:`\mathcal Q(\mathbf
D_t[:, g])` (unit modulus) and keeps the digital part; indices of padded users :math:`u \ge U`
keep the precoder (:class:`CodewordCore`).

Training (:func:`train_method`)
-------------------------------
One method, one seed, on :class:`~isaclearn.rl.envs.yang_som.YangSomCore` with ``B`` parallel
frames (``batch_size``); an episode is one frame of ``T`` subframes of all ``B`` frames. After
each episode one training-curve row is written at once (appended to ``<stem>.curve.csv`` and
passed to ``callback``):

``method, seed, episode, reward, se, se_per_hz, crlb_db, reward_rate, reward_sense``

with ``reward`` the cumulative reward of the frame :math:`\sum_n r^{(n)}` (38) (mean over the
``B`` frames, exploration noise on) and the others the means of the environment's ``info``
over the frame's subframes and the ``B`` frames.

*Resume.* The training state is checkpointed after every ``checkpoint_every`` episodes in the
platform's format (:mod:`isaclearn.learn.checkpoint`: safetensors + JSON, nothing unpickled) as
``<stem>.train``; a killed run restarts from it, and the curve file is rewritten from the
checkpoint's rows (an episode done after the last checkpoint is run again, not duplicated).
With ``exact_resume=True`` (default) the replay buffer is stored too and a resumed run equals
an uninterrupted one bit for bit (on the CPU). PSAC uses its own checkpoint
(:meth:`~isaclearn.rl.agents.psac.PSAC.save_checkpoint`). The SB3 agents are trained one
episode per ``learn`` call; their state — policy (with targets and BN statistics), optimizers,
replay buffer, action noise, counters and the random states SB3 draws from (NumPy's and torch's
global generators, kept private to the run: swapped in around each ``learn`` call and out
again, and the action space's generator) — is written as tensors plus JSON, and each episode
starts with a reset seeded by ``(seed, "env", episode)`` so that no environment state crosses a
checkpoint. When training ends the weights are written as ``<stem>`` (kind
``"yang_som_learned"``, with the method, the environment configuration and the seed as its
checked configuration) and ``<stem>.train`` is deleted unless ``keep_state``. ``<stem>`` is
``<out_dir>/<method>_seed<seed>``. A finished run is not trained again: its rows are read back.

*Sweeps.* :func:`train_sweep` trains a list of :class:`LearnJob` (e.g. one per sweep point and
seed) in this process (``workers=0``, default) or as Ray tasks on a local Ray instance
(``workers > 0`` CPUs, one torch thread per task); each job depends only on its own seeds, so
both give the same results.

Evaluation (:func:`learned_designers`)
--------------------------------------
:class:`LearnedPolicy` loads a finished ``<stem>`` (refused with a one-line
:class:`~isaclearn.core.errors.CheckpointError` if it was trained on another environment
configuration, method or seed) and is a rollout *policy*: ``policy(obs, deterministic=True)``
acts greedily (no noise, BN in eval mode) on the batched observation, and
``policy.make_core(B)`` builds the environment it acts on (its scheme; the codeword view for
``dqn``). ``rollout(policy.make_core, policy, frames, seed)`` — or :meth:`LearnedPolicy.evaluate`
— scores it through :func:`isaclearn.rl.rollout.rollout` on the same seeded frames as every
other method (the frames do not depend on the scheme or the view).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from isaclearn.core.checks import check_count
from isaclearn.core.errors import CheckpointError, ConfigError
from isaclearn.learn.checkpoint import (
    exists,
    load_checkpoint,
    paths,
    prefixed,
    save_checkpoint,
    unprefixed,
)
from isaclearn.rl.agents.psac import PSAC, ActionHead, PSACConfig, PSACNetwork
from isaclearn.rl.agents.psac_baselines import DiscreteActionCore, ac_baseline, dqn_baseline
from isaclearn.rl.agents.trainers import derive_seed
from isaclearn.rl.core import CoreView, EnvCore, StepResult, as_batched_action
from isaclearn.rl.envs.yang_som import YangSomConfig, YangSomCore
from isaclearn.rl.rollout import rollout
from isaclearn.solvers.hybrid import quantize_phases

__all__ = [
    "CURVE_COLUMNS",
    "METHODS",
    "MODEL_KIND",
    "CodewordCore",
    "LearnJob",
    "LearnedPolicy",
    "MethodSpec",
    "env_config",
    "learned_designers",
    "psac_heads",
    "train_method",
    "train_sweep",
]

MODEL_KIND = "yang_som_learned"
STATE_KIND = "yang_som_sb3_training_state"

CURVE_COLUMNS = ("method", "seed", "episode", "reward", "se", "se_per_hz", "crlb_db",
                 "reward_rate", "reward_sense")
"""Columns of a training-curve row (module Training)."""

_INFO_COLUMNS = CURVE_COLUMNS[4:]
PC = ("S_H", "S_P")


@dataclass(frozen=True)
class MethodSpec:
    """What a method name stands for (module table)."""

    agent: Literal["psac", "ac", "dqn"]
    scheme: Literal["uu", "au"] | None
    """Action scheme of the environment; ``None``: ``env_kwargs["scheme"]`` (default UU)."""
    inputs: tuple[str, ...] = PC
    """Observation keys of the state encoder."""


METHODS: dict[str, MethodSpec] = {
    "drl_uu": MethodSpec("psac", "uu"),
    "drl_au": MethodSpec("psac", "au"),
    "drl_pc": MethodSpec("psac", "uu"),
    "drl_po": MethodSpec("psac", "uu", ("S_P",)),
    "drl_co": MethodSpec("psac", "uu", ("S_H",)),
    "ac": MethodSpec("ac", None),
    "dqn": MethodSpec("dqn", None),
}
"""The learned methods by name."""


def _spec(method: str) -> MethodSpec:
    if method not in METHODS:
        raise ConfigError(f"unknown learned method {method!r}; known: {sorted(METHODS)}")
    return METHODS[method]


def env_config(method: str, env_kwargs: Mapping[str, Any] | None) -> YangSomConfig:
    """The :class:`YangSomConfig` a method trains and acts on: ``env_kwargs`` with the
    method's action scheme."""
    spec = _spec(method)
    kwargs = dict(env_kwargs or {})
    if spec.scheme is not None:
        kwargs["scheme"] = spec.scheme
    try:
        return YangSomConfig(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"bad env_kwargs for yang_som: {exc}") from None


def _json(x: Any) -> Any:
    def default(o: Any) -> Any:
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return dataclasses.asdict(o)
        return str(o)
    return json.loads(json.dumps(x, default=default, sort_keys=True))


def _env_json(cfg: YangSomConfig) -> dict[str, Any]:
    return _json({f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)})  # type: ignore[no-any-return]


def psac_heads(cfg: YangSomConfig, hidden: int = 0) -> tuple[ActionHead, ...]:
    """PSAC's action decoder for the environment's flat action (spec §3): UU ``(a_RF,1
    [U^max] sigmoid, a_RF,2 [N_t] tanh, a_BB [M] tanh | a_RF)``, AU ``(a_RF [N_t] sigmoid,
    a_BB [M] tanh | a_RF)``; the sigmoid heads ``box_affine`` (module docstring)."""
    m, s = cfg.num_antennas, cfg.num_subcarriers
    bb = ActionHead("a_bb", s, "tanh", conditioned=True, hidden=hidden)
    if cfg.scheme == "uu":
        return (ActionHead("a_rf1", cfg.max_users, "sigmoid", hidden=hidden, box_affine=True),
                ActionHead("a_rf2", m, "tanh", hidden=hidden), bb)
    return (ActionHead("a_rf", m, "sigmoid", hidden=hidden, box_affine=True), bb)


# --------------------------------------------------------------------------------------------
# cores: the DQN's codeword action and a recorder of the training curve
# --------------------------------------------------------------------------------------------


class CodewordCore(DiscreteActionCore):
    """The DQN's view of a :class:`YangSomCore`: ``Discrete(U^max G_t)``; index
    :math:`uG_t + g` replaces column :math:`u` of the current :math:`\\mathbf F_{RF}` by the
    :math:`B`-bit quantized phases of dictionary column :math:`g` (no change for padded users
    :math:`u \\ge U`), keeps :math:`\\mathbf p`, and steps with
    :meth:`YangSomCore.step_precoder`.

    Parameters
    ----------
    core : YangSomCore
        The environment.
    """

    def __init__(self, core: YangSomCore) -> None:
        if not isinstance(core, YangSomCore):
            raise ConfigError(f"CodewordCore needs a YangSomCore, got {type(core).__name__}")
        c = core.config
        super().__init__(core, c.max_users * c.num_grid, _no_table)
        self.yang = core
        dictionary = core._dictionary  # [M, G]
        self.codewords = quantize_phases(
            torch.exp(1j * torch.angle(dictionary)).to(core.dtype), c.bits)  # [M, G]

    def with_batch_size(self, batch_size: int) -> CodewordCore:
        return CodewordCore(self.yang.with_batch_size(batch_size))

    def precoder(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(F_RF [B, M, K], p [B, S, K])`` after the actions ``index`` ``[B]``."""
        c = self.yang.config
        g = self.yang.config.num_grid
        u = torch.div(index, g, rounding_mode="floor")
        cols = self.codewords[:, index % g].transpose(0, 1)  # [B, M]
        f_rf = self.yang.f_rf.clone()
        sel = (torch.arange(c.num_users, device=index.device)[None, :] == u[:, None])  # [B, K]
        f_rf = torch.where(sel[:, None, :], cols[:, :, None], f_rf)
        return f_rf, self.yang.p

    def step(self, action: Any) -> StepResult:
        """Apply the codeword replacement of ``action`` ``[B]`` and step."""
        index = as_batched_action(self.action_space, action, self.batch_size, self.device)
        assert isinstance(index, torch.Tensor)
        return self.yang.step_precoder(*self.precoder(index.to(torch.int64)))


def _no_table(index: torch.Tensor, core: EnvCore) -> Any:  # pragma: no cover - never called
    raise ConfigError("CodewordCore steps with step_precoder")


class _CurveCore(CoreView):
    """Delegates to ``core`` and sums the rewards and the curve's info metrics of every step
    (the SB3 agents' training curve)."""

    def __init__(self, core: EnvCore) -> None:
        super().__init__(core)
        self.clear()

    def clear(self) -> None:
        self.total = torch.zeros(self.batch_size, dtype=torch.float64)
        self.sums: dict[str, torch.Tensor] = {}
        self.steps = 0

    def with_batch_size(self, batch_size: int) -> EnvCore:
        return _CurveCore(self.core.with_batch_size(batch_size))

    def step(self, action: Any) -> StepResult:
        obs, reward, terminated, truncated, info = self.core.step(action)
        self.total += reward.detach().to("cpu", torch.float64)
        for key in _INFO_COLUMNS:
            if key in info:
                value = info[key].detach().to("cpu", torch.float64)
                self.sums[key] = self.sums.get(key, 0.0) + value
        self.steps += 1
        return obs, reward, terminated, truncated, info

    def row(self) -> dict[str, Any]:
        out: dict[str, Any] = {"reward": float(self.total.mean())}
        for key, value in self.sums.items():
            out[key] = float((value / max(self.steps, 1)).mean())
        return out


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------


@dataclass
class LearnJob:
    """Arguments of one :func:`train_method` call (one method × environment × seed) for
    :func:`train_sweep`."""

    method: str
    env_kwargs: dict[str, Any]
    seed: int
    episodes: int
    out_dir: str
    batch_size: int = 1
    agent_kwargs: dict[str, Any] = field(default_factory=dict)
    exact_resume: bool = True
    checkpoint_every: int = 1
    keep_state: bool = False


def _stem(out_dir: str | Path, method: str, seed: int) -> Path:
    return Path(out_dir) / f"{method}_seed{int(seed)}"


def _checked(method: str, cfg: YangSomConfig, seed: int) -> dict[str, Any]:
    return {"method": method, "env": _env_json(cfg), "seed": int(seed)}


def _curve_row(method: str, seed: int, episode: int, row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"method": method, "seed": int(seed), "episode": int(episode)}
    for key in CURVE_COLUMNS[3:]:
        out[key] = float(row[key]) if key in row else float("nan")
    return out


class _CurveFile:
    """``<stem>.curve.csv``: rewritten from the checkpoint's rows, then appended per episode."""

    def __init__(self, path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(CURVE_COLUMNS))
            w.writeheader()
            w.writerows(rows)

    def append(self, row: Mapping[str, Any]) -> None:
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=list(CURVE_COLUMNS)).writerow(row)


def train_method(method: str, env_kwargs: Mapping[str, Any] | None, *, seed: int,
                 episodes: int, out_dir: str | Path, batch_size: int = 1,
                 agent_kwargs: Mapping[str, Any] | None = None, exact_resume: bool = True,
                 checkpoint_every: int = 1, keep_state: bool = False,
                 callback: Callable[[dict[str, Any]], None] | None = None,
                 log: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Train one learned method with one seed (resuming from its checkpoint) and return its
    training curve.

    Parameters
    ----------
    method : str
        A key of :data:`METHODS`.
    env_kwargs : mapping or None
        Fields of :class:`YangSomConfig` (the method sets ``scheme`` where it has one).
    seed : int
        Seed of the agent and of the training frames.
    episodes : int
        Episodes :math:`N_{ep}` (frames of ``batch_size`` parallel episodes).
    out_dir : str or Path
        Folder of ``<method>_seed<seed>.*`` (module Training).
    batch_size : int
        ``B`` parallel frames per episode.
    agent_kwargs : mapping, optional
        PSAC: fields of :class:`~isaclearn.rl.agents.psac.PSACConfig` (except ``inputs``,
        ``heads``, ``seed`` and the checkpoint fields); ``head_hidden`` (int) gives every head a
        hidden layer. AC: arguments of :func:`~isaclearn.rl.agents.psac_baselines.ac_baseline`;
        DQN: of :func:`~isaclearn.rl.agents.psac_baselines.dqn_baseline`.
    exact_resume : bool
        Store the replay buffer in the training checkpoint (a resumed run equals an
        uninterrupted one).
    checkpoint_every : int
        Episodes between training checkpoints.
    keep_state : bool
        Keep ``<stem>.train`` after the final weights are written.
    callback : callable, optional
        Called with each new curve row (after it is written to the curve file).
    log : callable, optional
        Receives one progress line per episode.

    Returns
    -------
    list of dict
        The curve rows of all ``episodes`` episodes (columns :data:`CURVE_COLUMNS`).

    Raises
    ------
    ConfigError
        Unknown method or bad arguments.
    CheckpointError
        A checkpoint in ``out_dir`` belongs to another configuration or is damaged.
    """
    spec = _spec(method)
    check_count(episodes, "episodes")
    check_count(batch_size, "batch_size")
    check_count(checkpoint_every, "checkpoint_every")
    seed = int(seed)
    cfg = env_config(method, env_kwargs)
    stem = _stem(out_dir, method, seed)
    checked = _checked(method, cfg, seed)
    agent = dict(agent_kwargs or {})
    if exists(stem):
        ck = load_checkpoint(stem, expected_config=checked, expected_kind=MODEL_KIND)
        if int(ck.state["episodes"]) == episodes and ck.state["agent"] == _json(agent) and int(
                ck.state["batch_size"]) == batch_size:
            rows = [dict(r) for r in ck.state["curve"]]
            _CurveFile(Path(f"{stem}.curve.csv"), rows)
            return rows
        raise CheckpointError(f"checkpoint {stem} is a finished run with other training "
                              f"settings (episodes, batch_size or agent_kwargs); use another "
                              f"out_dir")
    tag = {**checked, "agent": _json(agent), "batch_size": batch_size}
    trainer = (_PSACRun if spec.agent == "psac" else _SB3Run)(
        method, spec, cfg, seed, batch_size, agent, exact_resume, checkpoint_every, tag)
    state_stem = Path(f"{stem}.train")
    history = trainer.resume(state_stem)
    rows = [_curve_row(method, seed, i, r) for i, r in enumerate(history)]
    curve = _CurveFile(Path(f"{stem}.curve.csv"), rows)

    def on_row(row: dict[str, Any]) -> None:
        out = _curve_row(method, seed, len(rows), row)
        rows.append(out)
        curve.append(out)
        if callback is not None:
            callback(out)
        if log is not None:
            log(f"{method} seed {seed} episode {out['episode'] + 1}/{episodes}: reward "
                f"{out['reward']:.4g}, se {out['se']:.4g}, crlb_db {out['crlb_db']:.4g}")

    trainer.train(episodes, state_stem, on_row)
    tensors, agent_state = trainer.weights()
    save_checkpoint(stem, tensors, kind=MODEL_KIND, config=checked,
                    metrics={"reward": rows[-1]["reward"]},
                    state={"episodes": episodes, "agent": _json(agent), "batch_size": batch_size,
                           "agent_config": agent_state, "curve": rows})
    if not keep_state:
        for p in paths(state_stem):
            p.unlink(missing_ok=True)
    return rows


def _psac_config(spec: MethodSpec, cfg: YangSomConfig, seed: int, agent: Mapping[str, Any],
                 **extra: Any) -> PSACConfig:
    kwargs = dict(agent)
    hidden = int(kwargs.pop("head_hidden", 0))
    for name in ("inputs", "heads", "seed", "checkpoint_every", "checkpoint_buffer"):
        if name in kwargs:
            raise ConfigError(f"agent_kwargs may not set {name!r} (the method sets it)")
    if "channels" in kwargs:
        kwargs["channels"] = tuple(kwargs["channels"])
    if "channels_per_key" in kwargs:
        kwargs["channels_per_key"] = tuple((str(k), tuple(v))
                                           for k, v in kwargs["channels_per_key"])
    fields: dict[str, Any] = {**kwargs, **extra}
    return PSACConfig(inputs=spec.inputs, heads=psac_heads(cfg, hidden), seed=seed, **fields)


class _PSACRun:
    def __init__(self, method: str, spec: MethodSpec, cfg: YangSomConfig, seed: int,
                 batch_size: int, agent: Mapping[str, Any], exact: bool, every: int,
                 tag: Mapping[str, Any]) -> None:
        pcfg = _psac_config(spec, cfg, seed, agent, checkpoint_every=every,
                            checkpoint_buffer=exact)
        self.agent = PSAC(YangSomCore(batch_size, cfg), pcfg, checkpoint_tag=tag)

    def resume(self, stem: Path) -> list[dict[str, Any]]:
        if exists(stem):
            self.agent.load_checkpoint(stem)
        return list(self.agent.history)

    def train(self, episodes: int, stem: Path, on_row: Callable[[dict[str, Any]], None]) -> None:
        self.agent.train(episodes, callback=on_row, checkpoint=stem, resume=False)

    def weights(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        cfg = self.agent.config.to_dict()
        return prefixed(self.agent.network.state_dict(), "net"), cfg


@contextmanager
def _private_rng(state: dict[str, Any]) -> Iterator[None]:
    """Run a block with NumPy's and torch's global generators set to ``state`` (updated on
    exit) and restore the caller's afterwards."""
    saved_np = np.random.get_state()  # noqa: NPY002
    saved_torch = torch.get_rng_state()
    if "np" in state:
        np.random.set_state(state["np"])  # noqa: NPY002
        torch.set_rng_state(state["torch"])
    try:
        yield
    finally:
        state["np"] = np.random.get_state()  # noqa: NPY002
        state["torch"] = torch.get_rng_state()
        np.random.set_state(saved_np)  # noqa: NPY002
        torch.set_rng_state(saved_torch)


def _build_sb3(spec: MethodSpec, cfg: YangSomConfig, seed: int, batch_size: int,
               agent: Mapping[str, Any]) -> tuple[Any, _CurveCore]:
    inner: EnvCore = YangSomCore(batch_size, cfg)
    if spec.agent == "dqn":
        inner = CodewordCore(inner)  # type: ignore[arg-type]
    core = _CurveCore(inner)
    kwargs = dict(agent)
    encoder = dict(kwargs.pop("encoder", {}))
    encoder.setdefault("inputs", spec.inputs)
    model: Any
    if spec.agent == "ac":
        model = ac_baseline(core, encoder=encoder, seed=seed, **kwargs)
        if batch_size > 1 and model.action_noise is not None:
            # vectorized now (SB3 would do it at the first learn call), so that its state is
            # the one a checkpoint restores
            from stable_baselines3.common.noise import VectorizedActionNoise
            model.action_noise = VectorizedActionNoise(model.action_noise, batch_size)
    else:
        model = dqn_baseline(core, encoder=encoder, seed=seed, **kwargs)
    return model, core


def _optimizers(model: Any) -> dict[str, torch.optim.Optimizer]:
    policy = model.policy
    if hasattr(policy, "actor") and hasattr(policy, "critic"):
        return {"actor": policy.actor.optimizer, "critic": policy.critic.optimizer}
    return {"q": policy.optimizer}


def _noises(model: Any) -> list[Any]:
    noise = model.action_noise
    if noise is None:
        return []
    return list(getattr(noise, "noises", [noise]))


class _SB3Run:
    def __init__(self, method: str, spec: MethodSpec, cfg: YangSomConfig, seed: int,
                 batch_size: int, agent: Mapping[str, Any], exact: bool, every: int,
                 tag: Mapping[str, Any]) -> None:
        self.seed, self.exact, self.every, self.tag = seed, exact, every, dict(tag)
        self.rng: dict[str, Any] = {}
        with _private_rng(self.rng):
            self.model, self.core = _build_sb3(spec, cfg, seed, batch_size, agent)
        self.history: list[dict[str, Any]] = []
        self.agent = dict(agent)

    # ---- checkpoints of the SB3 state ----------------------------------------------------

    def _save(self, stem: Path) -> None:
        m = self.model
        tensors = prefixed(m.policy.state_dict(), "policy")
        meta_opt: dict[str, Any] = {}
        for name, opt in _optimizers(m).items():
            osd = opt.state_dict()
            meta_opt[name] = osd["param_groups"]
            for pid, st in osd["state"].items():
                for key, t in st.items():
                    tensors[f"optim.{name}.{pid}.{key}"] = torch.as_tensor(t)
        for i, n in enumerate(_noises(m)):
            if hasattr(n, "noise_prev"):
                tensors[f"noise.{i}"] = torch.as_tensor(np.asarray(n.noise_prev))
        _, keys, pos, has_gauss, cached = self.rng["np"]
        tensors["rng.np_keys"] = torch.as_tensor(np.asarray(keys, dtype=np.int64))
        tensors["rng.torch"] = self.rng["torch"]
        buffer_meta = None
        if self.exact:
            b = m.replay_buffer
            for key, arr in _buffer_arrays(b).items():
                tensors[f"buffer.{key}"] = torch.from_numpy(np.ascontiguousarray(arr))
            buffer_meta = {"pos": int(b.pos), "full": bool(b.full)}
        state = {"num_timesteps": int(m.num_timesteps), "n_updates": int(m._n_updates),
                 "episode_num": int(m._episode_num), "n_calls": int(getattr(m, "_n_calls", 0)),
                 "optim": meta_opt, "buffer": buffer_meta,
                 "np_rng": {"pos": int(pos), "has_gauss": int(has_gauss),
                            "cached": float(cached)},
                 "space_rng": m.action_space.np_random.bit_generator.state,
                 "history": self.history}
        save_checkpoint(stem, tensors, kind=STATE_KIND, config=self.tag, state=state)

    def resume(self, stem: Path) -> list[dict[str, Any]]:
        if not exists(stem):
            return []
        ck = load_checkpoint(stem, expected_config=self.tag, expected_kind=STATE_KIND)
        t, st, m = ck.tensors, ck.state, self.model
        try:
            m.policy.load_state_dict(unprefixed(t, "policy"))
            for name, opt in _optimizers(m).items():
                osd: dict[str, Any] = {"state": {}, "param_groups": st["optim"][name]}
                for key, value in unprefixed(t, f"optim.{name}").items():
                    pid, sub = key.split(".", 1)
                    osd["state"].setdefault(int(pid), {})[sub] = value
                opt.load_state_dict(osd)
            for i, n in enumerate(_noises(m)):
                if f"noise.{i}" in t:
                    n.noise_prev = t[f"noise.{i}"].numpy().astype(np.float64).copy()
            r = st["np_rng"]
            self.rng["np"] = ("MT19937", t["rng.np_keys"].numpy().astype(np.uint32),
                              r["pos"], r["has_gauss"], r["cached"])
            self.rng["torch"] = t["rng.torch"]
            m.action_space.np_random.bit_generator.state = st["space_rng"]
            if st.get("buffer") is not None:
                for key, arr in _buffer_arrays(m.replay_buffer).items():
                    arr[...] = t[f"buffer.{key}"].numpy()
                m.replay_buffer.pos = int(st["buffer"]["pos"])
                m.replay_buffer.full = bool(st["buffer"]["full"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint {stem} does not fit this agent: {exc}") from None
        m.num_timesteps = int(st["num_timesteps"])
        m._n_updates = int(st["n_updates"])
        m._episode_num = int(st["episode_num"])
        if hasattr(m, "_n_calls"):
            m._n_calls = int(st["n_calls"])
        self.history = list(st["history"])
        return list(self.history)

    # ---- training -------------------------------------------------------------------------

    def train(self, episodes: int, stem: Path, on_row: Callable[[dict[str, Any]], None]) -> None:
        from stable_baselines3.common.callbacks import BaseCallback

        m, core = self.model, self.core
        steps = int(core.max_episode_steps or 1)
        chunk = steps * core.batch_size
        full = episodes * chunk

        class _Horizon(BaseCallback):
            """Keep SB3's progress (DQN's exploration schedule) on the whole run."""

            def _on_training_start(self) -> None:
                self.model._total_timesteps = full

            def _on_step(self) -> bool:
                return True

        while len(self.history) < episodes:
            ep = len(self.history)
            venv = m.get_env()
            venv.seed(derive_seed(self.seed, "env", ep))
            with _private_rng(self.rng):
                m._last_obs = venv.reset()
                m._last_episode_starts = np.ones((core.batch_size,), dtype=bool)
                core.clear()
                m.learn(total_timesteps=chunk, reset_num_timesteps=False, callback=_Horizon())
            row = {"episode": ep, **core.row()}
            self.history.append(row)
            on_row(row)
            if len(self.history) % self.every == 0 or len(self.history) >= episodes:
                self._save(stem)

    def weights(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return prefixed(self.model.policy.state_dict(), "policy"), _json(self.agent)


def _buffer_arrays(b: Any) -> dict[str, np.ndarray]:
    out = {f"obs.{k}": v for k, v in b.observations.items()}
    out.update({f"next_obs.{k}": v for k, v in b.next_observations.items()})
    out.update(actions=b.actions, rewards=b.rewards, dones=b.dones, timeouts=b.timeouts)
    return out


def _run_job(job: LearnJob) -> list[dict[str, Any]]:
    return train_method(job.method, job.env_kwargs, seed=job.seed, episodes=job.episodes,
                        out_dir=job.out_dir, batch_size=job.batch_size,
                        agent_kwargs=job.agent_kwargs, exact_resume=job.exact_resume,
                        checkpoint_every=job.checkpoint_every, keep_state=job.keep_state)


def train_sweep(jobs: Sequence[LearnJob], *, workers: int = 0,
                log: Callable[[str], None] | None = None) -> list[list[dict[str, Any]]]:
    """Train several methods / sweep points / seeds, each to its own checkpoint.

    ``workers=0`` trains them one after another in this process; ``workers > 0`` runs one Ray
    task per job on a local Ray instance with ``workers`` CPUs (``ray.init`` if Ray is not
    running) and one torch thread per task. Every job resumes from its checkpoint. Returns the
    curves in the order of ``jobs``.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ConfigError(f"workers must be an integer >= 0, got {workers!r}")
    if workers == 0:
        out = []
        for i, job in enumerate(jobs):
            if log is not None:
                what = ("reading back" if exists(_stem(job.out_dir, job.method, job.seed))
                        else "training")
                log(f"{what} {i + 1}/{len(jobs)}: {job.method} seed {job.seed}")
            out.append(_run_job(job))
        return out
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)

    @ray.remote(num_cpus=1)
    def remote(job: LearnJob) -> list[dict[str, Any]]:
        torch.set_num_threads(1)
        return _run_job(job)

    return [list(r) for r in ray.get([remote.remote(job) for job in jobs])]


# --------------------------------------------------------------------------------------------
# trained policies
# --------------------------------------------------------------------------------------------


class LearnedPolicy:
    """A trained method as a rollout policy (module Evaluation).

    Parameters
    ----------
    method : str
        The method (and the ``name`` of its rollout rows).
    config : YangSomConfig
        The environment it acts on.
    act : callable
        ``act(obs) -> action`` on a batched observation (greedy).
    """

    def __init__(self, method: str, config: YangSomConfig,
                 act: Callable[[Mapping[str, torch.Tensor]], torch.Tensor]) -> None:
        self.name = method
        self.config = config
        self._act = act

    @property
    def env_overrides(self) -> dict[str, Any]:
        """Fields of an evaluation env this method fixes (its action scheme)."""
        scheme = _spec(self.name).scheme
        return {} if scheme is None else {"scheme": scheme}

    def wrap_core(self, core: YangSomCore) -> EnvCore:
        """``core`` as this method acts on it (the codeword view for DQN)."""
        return CodewordCore(core) if _spec(self.name).agent == "dqn" else core

    def make_core(self, batch_size: int) -> EnvCore:
        """The environment the policy was trained on, with ``batch_size`` frames."""
        return self.wrap_core(YangSomCore(batch_size, self.config))

    def __call__(self, obs: Mapping[str, torch.Tensor], deterministic: bool = True
                 ) -> torch.Tensor:
        """The greedy action for ``obs`` (``deterministic`` is accepted for rollout; the
        policy is always greedy)."""
        with torch.no_grad():
            return self._act(obs)

    def evaluate(self, frames: int, seed: int, *, batch_size: int | None = None
                 ) -> list[dict[str, Any]]:
        """``rollout(self.make_core, self, frames, seed, batch_size=batch_size)``: one row per
        frame."""
        return rollout(self.make_core, self, frames, int(seed), batch_size=batch_size)


def _load_policy(out_dir: str | Path, env_kwargs: Mapping[str, Any] | None, method: str,
                 seed: int) -> LearnedPolicy:
    spec = _spec(method)
    cfg = env_config(method, env_kwargs)
    stem = _stem(out_dir, method, seed)
    ck = load_checkpoint(stem, expected_config=_checked(method, cfg, seed),
                         expected_kind=MODEL_KIND)
    agent_cfg = ck.state["agent_config"]
    try:
        if spec.agent == "psac":
            fields = dict(agent_cfg)
            fields["heads"] = tuple(ActionHead(**h) for h in fields["heads"])
            fields["inputs"] = tuple(fields["inputs"])
            fields["channels"] = tuple(fields["channels"])
            fields["channels_per_key"] = tuple((k, tuple(v))
                                               for k, v in fields["channels_per_key"])
            pcfg = PSACConfig(**fields)
            probe = YangSomCore(1, cfg)
            net = PSACNetwork(probe.observation_space, probe.action_space, pcfg)
            net.load_state_dict(unprefixed(ck.tensors, "net"))
            net.eval()

            def act(obs: Mapping[str, torch.Tensor]) -> torch.Tensor:
                return net.actor({k: torch.as_tensor(v).float() for k, v in obs.items()})
            return LearnedPolicy(method, cfg, act)
        rng: dict[str, Any] = {}
        with _private_rng(rng):
            model, _ = _build_sb3(spec, cfg, seed, 1, agent_cfg)
        model.policy.load_state_dict(unprefixed(ck.tensors, "policy"))
        model.policy.set_training_mode(False)

        def act_sb3(obs: Mapping[str, torch.Tensor]) -> torch.Tensor:
            arrays = {k: torch.as_tensor(v).cpu().numpy() for k, v in obs.items()}
            action, _ = model.policy.predict(arrays, deterministic=True)
            return torch.as_tensor(action)
        return LearnedPolicy(method, cfg, act_sb3)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"checkpoint {stem} does not fit method {method!r}: "
                              f"{str(exc).splitlines()[0]}") from None


def learned_designers(out_dir: str | Path, env_kwargs: Mapping[str, Any] | None,
                      methods: Sequence[str], seed: int) -> dict[str, LearnedPolicy]:
    """The trained methods of ``out_dir`` as rollout policies.

    Parameters
    ----------
    out_dir : str or Path
        Folder of the finished checkpoints written by :func:`train_method`.
    env_kwargs : mapping or None
        The environment configuration the methods were trained on (checked).
    methods : sequence of str
        Keys of :data:`METHODS`.
    seed : int
        Training seed of the checkpoints.

    Returns
    -------
    dict of str to LearnedPolicy
        By method, in the order given.

    Raises
    ------
    CheckpointError
        A checkpoint is missing, damaged, or from another configuration.
    ConfigError
        An unknown method.
    """
    for m in methods:
        _spec(m)
    return {m: _load_policy(out_dir, env_kwargs, m, int(seed)) for m in methods}


def untrained_policy(method: str, env_kwargs: Mapping[str, Any] | None = None, *,
                     seed: int = 0) -> LearnedPolicy:
    """A PSAC method with freshly initialized weights, as a policy: for timing (the forward
    pass costs the same with any weights), never for scores.

    Raises
    ------
    ConfigError
        An unknown method, or one that is not PSAC (``ac``, ``dqn``).
    """
    spec = _spec(method)
    if spec.agent != "psac":
        raise ConfigError(f"untrained_policy builds PSAC methods only, got {method!r}")
    cfg = env_config(method, env_kwargs)
    probe = YangSomCore(1, cfg)
    net = PSACNetwork(probe.observation_space, probe.action_space,
                      _psac_config(spec, cfg, int(seed), {}))
    net.eval()

    def act(obs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return net.actor({k: torch.as_tensor(v).float() for k, v in obs.items()})
    return LearnedPolicy(method, cfg, act)


class TimedPolicy:
    """A policy callable that adds the wall-clock time of its calls to ``seconds`` (the
    design time of a learned method, as a designer's ``design`` calls are timed)."""

    def __init__(self, policy: Callable[..., Any]) -> None:
        self.policy = policy
        self.seconds = 0.0

    def __call__(self, obs: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        out = self.policy(obs, *args, **kwargs)
        self.seconds += time.perf_counter() - start
        return out
