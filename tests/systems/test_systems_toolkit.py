"""The experiment toolkit (isaclearn.systems.toolkit) against explicit alternatives."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import pytest
import torch

from isaclearn.core import ConfigError, ShapeError, make_generator
from isaclearn.core.design import Design
from isaclearn.solvers import MRT
from isaclearn.systems import toolkit
from isaclearn.systems.base import MemoryContext
from isaclearn.systems.temiz_unsup import evaluate as temiz_evaluate
from isaclearn.systems.temiz_unsup import make_scenario
from isaclearn.systems.temiz_unsup.evaluation import row_metrics
from isaclearn.systems.toolkit import (
    finite_instances,
    finite_mean,
    mean_metrics,
    record_once,
    score,
    summarize,
    sweep,
    threads,
    time_designer,
)

# --------------------------------------------------------------------------- sweep


def test_sweep_resumes_runs_only_unfinished_points_and_records_each_at_once() -> None:
    ctx = MemoryContext()
    ctx.record("p=2", [{"method": "old", "y": -2.0}])  # finished by an earlier run
    ctx.record("p=4", [{"method": "old", "y": -4.0}])
    called: list[int] = []

    def run_point(p: int) -> list[dict[str, Any]]:
        # every earlier point is recorded before the next one starts
        assert all(ctx.is_done(f"p={q}") for q in called)
        called.append(p)
        return [{"method": "a", "y": float(p)}, {"method": "b", "y": 10.0 * p}]

    done = sweep(ctx, [1, 2, 3, 4, 5], lambda p: f"p={p}", run_point, desc="test")
    assert called == [1, 3, 5]
    assert done == ["p=1", "p=3", "p=5"]
    assert ctx.rows("p=2") == [{"method": "old", "y": -2.0}]  # untouched
    assert ctx.rows("p=3") == [{"method": "a", "y": 3.0}, {"method": "b", "y": 30.0}]
    # a second pass finds everything done
    assert sweep(ctx, [1, 2, 3, 4, 5], lambda p: f"p={p}", run_point) == []
    assert called == [1, 3, 5]


def test_sweep_runs_a_repeated_key_once_and_uses_the_progress_of_the_context() -> None:
    seen: list[tuple[list[Any], int | None, str]] = []

    class Ctx(MemoryContext):
        def progress(self, iterable, *, total=None, desc=""):  # type: ignore[no-untyped-def]
            items = list(iterable)
            seen.append((items, total, desc))
            yield from items

    ctx = Ctx()
    calls: list[str] = []

    def run_point(p: str) -> list[dict[str, Any]]:
        calls.append(p)
        return [{"method": p}]

    sweep(ctx, ["a", "b", "a"], str, run_point, desc="d")
    assert calls == ["a", "b"]
    assert seen == [(["a", "b", "a"], 3, "d")]


def test_record_once() -> None:
    ctx = MemoryContext()
    assert record_once(ctx, "k", lambda: [{"method": "x", "v": 1}])
    assert not record_once(ctx, "k", lambda: pytest.fail("must not run"))
    assert ctx.rows("k") == [{"method": "x", "v": 1}]


# --------------------------------------------------------------------------- timing


@dataclass
class _Problem:
    """A toy batched problem: ``x`` ``[B, 2]``."""

    x: torch.Tensor

    @property
    def batch_size(self) -> int:
        return int(self.x.shape[0])

    def subset(self, index: Any) -> _Problem:
        return replace(self, x=self.x[index])


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _ScriptedDesigner:
    """Each call advances the fake clock by the next scripted duration and logs the batch."""

    name = "scripted"

    def __init__(self, clock: _Clock, durations: list[float]) -> None:
        self.clock, self.durations = clock, list(durations)
        self.batches: list[int] = []

    def design(self, problem: _Problem) -> Design:
        self.batches.append(problem.batch_size)
        self.clock.now += self.durations.pop(0)
        return Design(w=problem.x.clone())


def test_time_designer_warms_up_once_untimed_then_reports_the_best_of_repeat(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    monkeypatch.setattr(toolkit, "perf_counter", clock)
    prob = _Problem(torch.arange(8.0).reshape(4, 2))
    d = _ScriptedDesigner(clock, [100.0, 3.0, 2.0, 4.0])  # warm-up pays the start-up
    design, sec = time_designer(d, prob, repeat=3)
    assert d.batches == [4, 4, 4, 4]  # one warm-up, three timed calls
    assert sec == 2.0 / 4  # best timed call per instance; the warm-up is not counted
    torch.testing.assert_close(design.w, prob.x)

    d = _ScriptedDesigner(clock, [7.0])
    _, sec = time_designer(d, prob, warmup=False)
    assert d.batches == [4] and sec == 7.0 / 4

    d = _ScriptedDesigner(clock, [50.0, 6.0])
    _, sec = time_designer(d, prob, warmup_instances=1)
    assert d.batches == [1, 4] and sec == 6.0 / 4

    d = _ScriptedDesigner(clock, [50.0, 6.0])
    time_designer(d, prob, warmup_instances=99)  # more than B: the whole batch
    assert d.batches == [4, 4]


def test_time_designer_cpu_clock_reads_thread_time_not_the_wall(
        monkeypatch: pytest.MonkeyPatch) -> None:
    wall, cpu = _Clock(), _Clock()
    monkeypatch.setattr(toolkit, "perf_counter", wall)
    monkeypatch.setattr(toolkit, "thread_time", cpu)
    prob = _Problem(torch.ones(2, 2))
    d = _ScriptedDesigner(cpu, [9.0, 5.0, 3.0])  # advances the CPU clock only
    _, sec = time_designer(d, prob, repeat=2, clock="cpu")
    assert sec == 3.0 / 2 and wall.now == 0.0
    d = _ScriptedDesigner(cpu, [9.0, 5.0])
    _, sec = time_designer(d, prob, clock="wall")  # the wall clock did not move
    assert sec == 0.0
    with pytest.raises(ConfigError, match="clock"):
        time_designer(d, prob, clock="gpu")


def test_time_designer_accepts_a_callable_and_checks_its_arguments() -> None:
    prob = _Problem(torch.ones(3, 2))
    calls: list[int] = []

    def bound(p: _Problem) -> str:
        calls.append(p.batch_size)
        return "done"

    out, sec = time_designer(bound, prob)
    assert out == "done" and calls == [3, 3] and sec >= 0.0
    with pytest.raises(ConfigError, match="repeat"):
        time_designer(lambda p: None, prob, repeat=0)
    with pytest.raises(ConfigError, match="warmup_instances"):
        time_designer(lambda p: None, prob, warmup_instances=0)
    with pytest.raises(ConfigError, match="design"):
        time_designer(42, prob)
    with pytest.raises(ShapeError, match="batch_size"):
        time_designer(lambda p: None, object())


# --------------------------------------------------------------------------- finite mean


def test_finite_mean_ignores_nan_and_inf() -> None:
    x = torch.tensor([1.0, float("nan"), 2.0, float("inf"), -float("inf"), 6.0])
    assert finite_mean(x) == 3.0
    assert math.isnan(finite_mean(torch.tensor([float("nan"), float("inf")])))
    assert math.isnan(finite_mean([]))
    assert finite_mean([0.5, float("nan"), 1.5]) == 1.0
    assert finite_mean(torch.ones(2, 3)) == 1.0  # any shape


def test_finite_mean_precision() -> None:
    g = make_generator(0)
    x = torch.rand(1001, generator=g, dtype=torch.float32) * 1e3
    x[::7] = float("nan")
    kept = [float(v) for v in x if math.isfinite(float(v))]
    assert finite_mean(x) == pytest.approx(math.fsum(kept) / len(kept), rel=1e-15)
    # dtype=None: the mean in the input's own precision
    assert finite_mean(x, dtype=None) == float(x[torch.isfinite(x)].mean())
    assert finite_mean(x, dtype=None) == pytest.approx(finite_mean(x), rel=1e-6)


# --------------------------------------------------------------------------- scoring


def _toy_evaluate(problem: _Problem, design: Design) -> dict[str, torch.Tensor]:
    return {"a": (design.w * problem.x).sum(-1), "b": design.w.abs().amax(-1),
            "matrix": torch.zeros(problem.batch_size, 2, 2)}


def test_finite_instances_looks_at_w_and_batched_extras() -> None:
    w = torch.ones(4, 2)
    w[1, 0] = float("nan")
    s = torch.ones(4, 3)
    s[2, 2] = float("inf")
    d = Design(w=w, extras={"s": s, "scalar": torch.tensor([float("nan")]),
                            "other": torch.full((2,), float("nan"))})
    assert finite_instances(d).tolist() == [True, False, False, True]


def test_score_uses_only_finite_instances_like_an_explicit_subset() -> None:
    x = torch.arange(12.0).reshape(6, 2)
    prob = _Problem(x)
    w = x.flip(0).clone()
    w[2, 1] = float("nan")
    w[4, 0] = float("inf")
    row = score("toy", prob, Design(w=w), _toy_evaluate, seconds_per_instance=0.25,
                extra={"iters": 3})
    keep = [0, 1, 3, 5]
    a = [float((w[i] * x[i]).sum()) for i in keep]
    b = [float(w[i].abs().max()) for i in keep]
    assert row == {"method": "toy", "instances": 4, "a": pytest.approx(sum(a) / 4),
                   "b": pytest.approx(sum(b) / 4), "iters": 3, "seconds_per_instance": 0.25}
    assert list(row) == ["method", "instances", "a", "b", "iters", "seconds_per_instance"]
    # the [B, 2, 2] metric is not a row value; a custom reduction picks the columns
    row = score("toy", prob, Design(w=w), _toy_evaluate, count_column="n",
                reduce=lambda m: {"a_max": float(m["a"].max())})
    assert row == {"method": "toy", "n": 4, "a_max": max(a)}


def test_score_with_no_finite_instance_gives_nan_means() -> None:
    prob = _Problem(torch.ones(2, 2))
    row = score("bad", prob, Design(w=torch.full((2, 2), float("nan"))), _toy_evaluate)
    assert row["instances"] == 0 and math.isnan(row["a"]) and math.isnan(row["b"])


def test_score_on_the_temiz_system_matches_scoring_the_finite_subset() -> None:
    prob = make_scenario(4, 3).sample(6, generator=make_generator(1))
    design = MRT().design(prob)
    bad = design.w.clone()
    bad[3] = float("nan")
    row = score("mrt", prob, Design(w=bad), temiz_evaluate, reduce=row_metrics)
    keep = torch.tensor([True, True, True, False, True, True])
    ref = row_metrics(temiz_evaluate(prob.subset(keep), Design(w=design.w[keep])))
    assert row == {"method": "mrt", "instances": 5, **ref}
    # a designer is designed here; with every instance finite, nothing is left out
    full = score("mrt", prob, MRT(), temiz_evaluate)
    assert full["instances"] == 6
    assert full == {"method": "mrt", "instances": 6,
                    **mean_metrics(temiz_evaluate(prob, design))}


def test_row_metrics_crb_in_db_of_the_mean() -> None:
    m = {"sum_rate": torch.tensor([1.0, 3.0]), "sum_crb": torch.tensor([1e-3, 1e-1]),
         "sum_crb_approx": torch.tensor([1.0, float("nan")])}
    out = row_metrics(m, ("sum_crb_db", "sum_rate", "sum_crb_approx_db"))
    assert list(out) == ["sum_crb_db", "sum_rate", "sum_crb_approx_db"]
    assert out["sum_crb_db"] == pytest.approx(10 * math.log10((1e-3 + 1e-1) / 2))
    assert out["sum_rate"] == 2.0 and out["sum_crb_approx_db"] == 0.0
    with pytest.raises(ConfigError, match="unknown row column"):
        row_metrics(m, ("nope",))


# --------------------------------------------------------------------------- summaries


def test_summarize_against_an_explicit_loop() -> None:
    rows = [{"kind": "d", "method": "a", "y": 1.0, "z": 4.0},
            {"kind": "d", "method": "b", "y": 2.0},
            {"kind": "d", "method": "a", "y": float("nan"), "z": 8.0},
            {"kind": "d", "method": "a", "y": 5.0, "z": None},
            {"kind": "other", "method": "b", "y": 100.0},
            {"kind": "d", "y": 7.0}]  # no method: skipped
    got = summarize(rows, ["y", "z"], where={"kind": "d"})
    assert got == {"a": {"y": 3.0, "z": 6.0}, "b": {"y": 2.0}}
    assert list(got) == ["a", "b"]
    assert summarize(rows, ["y"], by="kind") == {"d": {"y": 15.0 / 4}, "other": {"y": 100.0}}
    assert summarize([], ["y"]) == {}


# --------------------------------------------------------------------------- threads


def test_threads_sets_and_restores_also_after_an_error() -> None:
    before = torch.get_num_threads()
    with threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), threads(0):  # clamped to 1
        assert torch.get_num_threads() == 1
        raise RuntimeError
    assert torch.get_num_threads() == before


def test_score_rejects_what_is_neither_a_design_nor_a_designer() -> None:
    with pytest.raises(ConfigError, match="Design or a designer"):
        score("x", _Problem(torch.ones(1, 2)), torch.ones(1, 2), _toy_evaluate)
