"""The batched core's base class: seeding, masked resets, explicit episode data, checks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from isaclearn.core import ConfigError, ShapeError, make_generator
from isaclearn.rl.core import as_batched_action, build_core, load_core_factory, replace_rows
from isaclearn.rl.envs.toy import ToyBeamConfig, ToyBeamCore, ToyBeamEpisodes


def test_seed_and_generator_give_the_same_episodes(device: str) -> None:
    a = ToyBeamCore(4, device=device)
    b = ToyBeamCore(4, device=device)
    a.reset(seed=5)
    b.reset(generator=make_generator(5, device))
    assert a.episodes is not None and b.episodes is not None
    assert torch.equal(a.episodes.h, b.episodes.h)
    # the draw is sample_episodes with that generator, nothing else
    ref = ToyBeamCore(4, device=device).sample_episodes(4, make_generator(5, device))
    assert torch.equal(a.episodes.h, ref.h)


def test_unseeded_reset_continues_the_generator() -> None:
    core = ToyBeamCore(3)
    core.reset(seed=1)
    first = core.episodes.h.clone()  # type: ignore[union-attr]
    core.reset()
    second = core.episodes.h.clone()  # type: ignore[union-attr]
    gen = make_generator(1)
    ref1 = core.sample_episodes(3, gen)
    ref2 = core.sample_episodes(3, gen)
    assert torch.equal(first, ref1.h) and torch.equal(second, ref2.h)
    assert not torch.equal(first, second)


def test_first_unseeded_reset_is_random() -> None:
    a, b = ToyBeamCore(2), ToyBeamCore(2)
    a.reset()
    b.reset()
    assert not torch.equal(a.episodes.h, b.episodes.h)  # type: ignore[union-attr]


def test_masked_reset_starts_only_the_masked_episodes(device: str) -> None:
    core = ToyBeamCore(5, device=device)
    core.reset(seed=0)
    for _ in range(3):
        core.step(torch.ones(5, 16, device=device))
    before = core.episodes.h.clone()  # type: ignore[union-attr]
    obs_before = core.observe()
    mask = torch.tensor([True, False, True, False, False], device=device)
    gen_state = core.generator.get_state()  # type: ignore[union-attr]
    obs, info = core.reset(mask=mask)
    gen = torch.Generator(device=device)
    gen.set_state(gen_state)
    fresh = core.sample_episodes(2, gen)
    after = core.episodes.h  # type: ignore[union-attr]
    assert torch.equal(after[~mask], before[~mask])
    assert torch.equal(after[mask], fresh.h)
    assert core.elapsed.tolist() == [0, 3, 0, 3, 3]
    assert torch.equal(obs[~mask], obs_before[~mask])
    assert info == {}


def test_masked_reset_with_explicit_scenario() -> None:
    core = ToyBeamCore(3)
    core.reset(seed=0)
    other = ToyBeamCore(2).sample_episodes(2, make_generator(9))
    core.reset(mask=np.array([False, True, True]), options={"scenario": other})
    assert torch.equal(core.episodes.h[1:], other.h)  # type: ignore[union-attr]


def test_replace_rows_equals_a_loop() -> None:
    old = ToyBeamCore(4).sample_episodes(4, make_generator(0))
    new = ToyBeamCore(2).sample_episodes(2, make_generator(1))
    index = torch.tensor([3, 1])
    out = replace_rows(old, index, new)
    ref = old.h.clone()
    for j, i in enumerate(index.tolist()):
        ref[i] = new.h[j]
    assert torch.equal(out.h, ref)


def test_explicit_scenario_replays_an_episode(cdtype: torch.dtype) -> None:
    batched = ToyBeamCore(4, dtype=cdtype)
    obs, _ = batched.reset(seed=2)
    single = ToyBeamCore(1, dtype=cdtype)
    obs1, _ = single.reset(options={"scenario": batched.episodes.subset([2])})  # type: ignore
    assert torch.equal(obs1[0], obs[2])
    assert obs.dtype == (torch.float64 if cdtype == torch.complex128 else torch.float32)


def test_step_counter_and_truncation() -> None:
    core = ToyBeamCore(2, max_episode_steps=3, outage_rate=0.0)
    core.reset(seed=0)
    flags = []
    for _ in range(3):
        _, _, terminated, truncated, _ = core.step(torch.ones(2, 16))
        flags.append((terminated.tolist(), truncated.tolist()))
    assert flags == [([False, False], [False, False])] * 2 + [([False, False], [True, True])]
    assert core.elapsed.tolist() == [3, 3]
    # an ended episode may be stepped again (the vector faces reset it right after)
    obs, *_ = core.step(torch.ones(2, 16))
    assert torch.isfinite(obs).all()


def test_bad_calls_raise_clear_errors() -> None:
    core = ToyBeamCore(2)
    with pytest.raises(ConfigError, match="reset"):
        core.step(torch.zeros(2, 16))
    with pytest.raises(ConfigError, match="full reset"):
        core.reset(mask=torch.tensor([True, False]))
    with pytest.raises(ConfigError, match="not both"):
        core.reset(seed=1, generator=make_generator(1))
    with pytest.raises(ConfigError, match="unknown reset option"):
        core.reset(options={"phases": 1})
    core.reset(seed=0)
    with pytest.raises(ShapeError, match=r"\[2, 16\]"):
        core.step(torch.zeros(3, 16))
    with pytest.raises(ShapeError, match="mask"):
        core.reset(mask=torch.tensor([1, 0]))
    with pytest.raises(ConfigError, match="ToyBeamEpisodes"):
        core.reset(options={"scenario": torch.zeros(2)})
    wrong_batch = ToyBeamCore(3).sample_episodes(3, make_generator(0))
    with pytest.raises(ShapeError, match="3 episodes"):
        core.reset(options={"scenario": wrong_batch})
    wrong_shape = ToyBeamEpisodes(h=torch.zeros(2, 5, 2, 4, dtype=torch.complex64))
    with pytest.raises(ShapeError, match="T \\+ 1"):
        core.reset(options={"scenario": wrong_shape})


def test_construction_checks() -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        ToyBeamCore(0)
    with pytest.raises(ConfigError, match="no option"):
        ToyBeamCore(1, num_antenas=4)
    with pytest.raises(ConfigError, match="complex"):
        ToyBeamCore(1, dtype=torch.float32)
    with pytest.raises(ConfigError, match="correlation"):
        ToyBeamCore(1, correlation=1.5)
    core = ToyBeamCore(2, dtype="complex128")
    assert core.dtype == torch.complex128 and core.config.dtype == torch.complex128
    again = core.with_batch_size(7)
    assert again.batch_size == 7 and again.config == core.config


def test_config_object_and_overrides() -> None:
    cfg = ToyBeamConfig(num_antennas=3, num_users=3)
    core = ToyBeamCore(2, cfg, snr_db=0.0)
    assert core.config == dataclasses.replace(cfg, snr_db=0.0)
    assert core.observation_space.shape == (18,)
    with pytest.raises(ConfigError, match="ToyBeamConfig"):
        ToyBeamCore(2, config=object())


def test_dict_actions_are_checked() -> None:
    core = ToyBeamCore(2, action="dict")
    core.reset(seed=0)
    with pytest.raises(ConfigError, match="keys"):
        core.step({"w": torch.zeros(2, 16)})
    with pytest.raises(ConfigError, match="dict"):
        core.step(torch.zeros(2, 16))
    out = as_batched_action(core.action_space, {"w": np.zeros((2, 16)),
                                                "levels": np.ones((2, 2))}, 2,
                            torch.device("cpu"))
    assert isinstance(out, dict)
    assert out["levels"].dtype == torch.int64 and out["w"].dtype == torch.float32


def test_loading_cores_by_name() -> None:
    assert load_core_factory("isaclearn.rl.envs.toy:ToyBeamCore") is ToyBeamCore
    assert build_core("isaclearn.rl.envs.toy:ToyBeamCore", 3).batch_size == 3
    with pytest.raises(ConfigError, match="module:name"):
        load_core_factory("isaclearn.rl.envs.toy.ToyBeamCore")
    with pytest.raises(ConfigError, match="cannot load"):
        load_core_factory("isaclearn.rl.envs.toy:Nope")
    with pytest.raises(ConfigError, match="EnvCore"):
        build_core(lambda b: object(), 2)


def test_replace_rows_checks_the_other_fields() -> None:
    from dataclasses import dataclass, field

    from isaclearn.core.problem import BATCHED, BatchedProblem

    @dataclass
    class Ep(BatchedProblem):
        x: torch.Tensor = field(metadata=BATCHED)
        scale: float = 1.0

    old = Ep(torch.zeros(3, 2))
    out = replace_rows(old, torch.tensor([2]), Ep(torch.ones(1, 2)))
    assert out.x.tolist() == [[0, 0], [0, 0], [1, 1]] and old.x.sum() == 0  # a copy
    with pytest.raises(ConfigError, match="scale"):
        replace_rows(old, torch.tensor([0]), Ep(torch.ones(1, 2), scale=2.0))
    with pytest.raises(ConfigError, match="ToyBeamEpisodes"):
        replace_rows(old, torch.tensor([0]), ToyBeamEpisodes(  # type: ignore[type-var]
            h=torch.zeros(1, 2, 2, 2, dtype=torch.complex64)))


def test_core_view_delegates_state_and_equals_its_inner_core() -> None:
    from isaclearn.rl.core import CoreView, StepResult

    class Passthrough(CoreView):
        def step(self, action: object) -> StepResult:
            return self.core.step(action)

        def with_batch_size(self, batch_size: int) -> Passthrough:
            return Passthrough(self.core.with_batch_size(batch_size))

    plain = ToyBeamCore(3, max_episode_steps=4)
    view = Passthrough(ToyBeamCore(3, max_episode_steps=4))
    assert view.max_episode_steps == 4 and view.episodes is None
    assert view.batch_size == 3 and view.action_space == plain.action_space
    torch.testing.assert_close(plain.reset(seed=5)[0], view.reset(seed=5)[0])
    torch.testing.assert_close(plain.current_problem().h, view.current_problem().h)
    action = torch.linspace(-1, 1, 3 * 16).reshape(3, 16)
    torch.testing.assert_close(plain.step(action)[1], view.step(action)[1])
    assert torch.equal(view.elapsed, plain.elapsed) and int(view.elapsed[0]) == 1
    with pytest.raises(ConfigError, match="Design"):
        view.design_to_action(None)  # type: ignore[arg-type]
    assert view.with_batch_size(2).batch_size == 2
