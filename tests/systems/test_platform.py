"""A small system defined here, registered through the platform, and driven through every
command (list, run interrupted and resumed, evaluate, bench, leaderboard) without any change
outside this file: the acceptance test of the system registry."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from isaclearn.cli import main
from isaclearn.core.design import Design
from isaclearn.core.errors import ShapeError
from isaclearn.systems import base
from isaclearn.systems.base import (
    BenchSuite,
    DesignerEntry,
    ExperimentSpec,
    FileField,
    FileFormat,
    RunContext,
    SystemSpec,
)

# ----------------------------------------------------------------------------- the toy system


@dataclass
class ToyProblem:
    """Estimate ``x`` ``[B, N]`` from itself; ``scale`` is a positive scalar."""

    x: torch.Tensor
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.x.dim() != 2:
            raise ShapeError(f"x must have shape [B, N], got {tuple(self.x.shape)}")

    @property
    def batch_size(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_entries(self) -> int:
        return int(self.x.shape[1])

    def subset(self, index: Any) -> ToyProblem:
        return replace(self, x=self.x[index])


@dataclass
class ToyScenario:
    num_entries: int = 3

    def sample(self, batch: int, *, generator: torch.Generator | None = None) -> ToyProblem:
        return ToyProblem(torch.randn(batch, self.num_entries, generator=generator,
                                      dtype=torch.float64))


def toy_evaluate(problem: ToyProblem, design: Design) -> dict[str, torch.Tensor]:
    err = (design.w - problem.scale * problem.x).square().sum(-1)
    return {"neg_error": -err, "power": design.w.square().sum(-1)}


@dataclass
class Shrink:
    """Designer ``w = factor · scale · x``."""

    factor: float = 0.5
    name: str = "shrink"
    calls: list[int] = field(default_factory=list)

    def design(self, problem: ToyProblem) -> Design:
        self.calls.append(problem.batch_size)
        return Design(w=self.factor * problem.scale * problem.x)


@dataclass
class ToyConfig:
    factors: tuple[float, ...] = (0.5, 1.0)
    batch: int = 16
    seed: int = 0


class Interrupt:
    after: int | None = None
    done: list[str] = []


def toy_experiment(cfg: ToyConfig, ctx: RunContext) -> dict[str, Any]:
    problem = ToyScenario().sample(cfg.batch, generator=torch.Generator().manual_seed(cfg.seed))
    for f in ctx.progress(list(cfg.factors), desc="factors"):
        key = f"factor={f:g}"
        if ctx.is_done(key):
            continue
        if Interrupt.after is not None and len(Interrupt.done) >= Interrupt.after:
            raise KeyboardInterrupt
        Interrupt.done.append(key)
        m = toy_evaluate(problem, Shrink(f).design(problem))
        ctx.record(key, [{"method": "shrink", "factor": f,
                          "neg_error": float(m["neg_error"].mean())}])
    return {"points": len(ctx.rows())}


def toy_bench(options: Any, log: Any) -> list[dict[str, Any]]:
    log(f"toy bench with batch {options.batch}")
    return [{"designer": "shrink", "batch": options.batch, "seconds_per_instance": 1e-6}]


def _problem(arrays: Mapping[str, Any]) -> ToyProblem:
    return ToyProblem(torch.from_numpy(np.ascontiguousarray(arrays["x"])),
                      float(arrays["scale"]))


def _design(arrays: Mapping[str, Any], problem: ToyProblem) -> Design:
    return Design(w=torch.from_numpy(np.ascontiguousarray(arrays["w"])))


def _leaderboard_problem(options: Any) -> ToyProblem:
    return ToyScenario().sample(options.batch,
                                generator=torch.Generator().manual_seed(options.seed))


@pytest.fixture
def toy_system() -> Iterator[SystemSpec]:
    Interrupt.after, Interrupt.done = None, []
    spec = base.register_system(SystemSpec(
        name="toy",
        paper="none: a test system",
        description="estimate x from itself",
        make_scenario=ToyScenario,
        problem_cls=ToyProblem,
        design_cls=Design,
        evaluate=toy_evaluate,
        metrics={"neg_error": "1", "power": "1"},
        designers=lambda: [
            DesignerEntry("shrink", Shrink, description="half of x"),
            DesignerEntry("exact", lambda: Shrink(1.0, name="exact"), kind="bound"),
        ],
        reference="exact",
        file_format=FileFormat(
            problem_fields=(FileField("x", ("B", "N"), "real", "the data"),
                            FileField("scale", (), "positive", "gain", required=False,
                                      default=1.0)),
            design_fields=(FileField("w", ("B", "N"), "real", "the estimate"),),
            problem_from_arrays=_problem,
            design_from_arrays=_design,
            design_to_arrays=lambda d: {"w": d.w},
        ),
        leaderboard_scenario=_leaderboard_problem,
        bench_suites=[BenchSuite(
            name="toybench", description="toy timing",
            add_arguments=lambda p: p.add_argument("--batch", type=int, default=4),
            run=toy_bench, columns=["designer", "batch", "seconds_per_instance"])],
    ))
    base.register(ExperimentSpec(
        name="toy.sweep", fn=toy_experiment, config_cls=ToyConfig,
        profiles={"quick": {}, "paper": {"batch": 64}}, description="two sweep points",
    ))
    yield spec
    base.unregister_system("toy")


def run_cli(argv: list[Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ----------------------------------------------------------------------------- the commands


def test_list_shows_the_system(toy_system: SystemSpec,
                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["list"], capsys)
    assert code == 0
    assert "toy" in out and "toy.sweep" in out and "toybench" in out and "half of x" in out
    code, out, _ = run_cli(["list", "--system", "toy"], capsys)
    assert code == 0
    assert "neg_error" in out and "[B, N]" in out and "scale" in out and "toy.sweep" in out
    code, _, err = run_cli(["list", "--system", "nosuch"], capsys)
    assert code == 2 and "unknown system" in err


def test_run_interrupted_then_resumed(toy_system: SystemSpec, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "toy"
    Interrupt.after = 1
    code, _, err = run_cli(["run", "toy.sweep", "--out", out_dir], capsys)
    assert code == 130 and Interrupt.done == ["factor=0.5"]
    assert "--resume" in err
    Interrupt.after = None
    code, _, err = run_cli(["run", "toy.sweep", "--out", out_dir, "--resume"], capsys)
    assert code == 0, err
    assert Interrupt.done == ["factor=0.5", "factor=1"]  # the finished point was not redone
    rows = (out_dir / "results.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("key,method,factor,neg_error")
    # factor 1 reproduces x exactly: zero error; factor 0.5 leaves a quarter of |x|^2
    values = {r.split(",")[0]: float(r.split(",")[-1]) for r in rows[1:]}
    assert values["factor=1"] == 0.0 and values["factor=0.5"] < 0.0


def test_evaluate_a_file_and_designers(toy_system: SystemSpec, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    x = np.arange(6.0).reshape(2, 3)
    path = tmp_path / "toy.npz"
    np.savez(path, x=x, w=0.5 * x)
    report = tmp_path / "r.json"
    code, out, err = run_cli(["evaluate", path, "--system", "toy", "--json", report], capsys)
    assert code == 0, err
    got = json.loads(report.read_text())
    np.testing.assert_allclose(got["per_instance"]["neg_error"],
                               -(0.25 * x**2).sum(-1))
    designs = tmp_path / "designs.mat"
    code, out, err = run_cli(["evaluate", path, "--system", "toy", "--designer", "exact",
                              "--out", designs], capsys)
    assert code == 0, err
    import scipy.io

    saved = scipy.io.loadmat(designs)
    np.testing.assert_allclose(saved["w_exact"], x)
    np.testing.assert_allclose(saved["w_file"], 0.5 * x)
    # a wrong shape and an unknown designer: one-line errors, exit code 2
    np.savez(path, x=x, w=np.ones((2, 4)))
    code, _, err = run_cli(["evaluate", path, "--system", "toy"], capsys)
    assert code == 2 and "w" in err and "[B, N]" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(["evaluate", path, "--system", "toy", "--designer", "nope"], capsys)
    assert code == 2 and "unknown designer nope" in err


def test_bench_and_leaderboard(toy_system: SystemSpec, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["bench", "toybench", "--batch", 7], capsys)
    assert code == 0, err
    assert "shrink" in out and "toy bench with batch 7" in err
    code, out, err = run_cli(["bench", "toy", "--batch", 3], capsys)  # the system's name
    assert code == 0 and "toy bench with batch 3" in err
    report = tmp_path / "lb.json"
    code, out, err = run_cli(["leaderboard", "--system", "toy", "--batch", 8, "--runs", "",
                              "--json", report], capsys)
    assert code == 0, err
    rows = json.loads(report.read_text())["rows"]
    by = {r["method"]: r for r in rows}
    assert [r["method"] for r in rows] == ["shrink", "exact"]  # ranked; the bound last
    assert by["exact"]["neg_error"] == 0.0 and by["exact"]["rank"] == "-"
    assert by["shrink"]["rank"] == 1 and by["shrink"]["neg_error"] < 0
    assert by["shrink"]["instances"] == 8


# ----------------------------------------------------------------------------- the real systems


def test_qi_uplink_evaluate_file_round_trip(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A qi_uplink problem and design written to a file score as the direct evaluation does;
    ``--out`` writes designs that score the same when read back."""
    from isaclearn.core.random import make_generator
    from isaclearn.solvers.uplink import Average
    from isaclearn.systems.qi_uplink import evaluate, make_scenario

    sc = make_scenario(num_tx=4, num_rx=4, num_users=2, num_symbols=6)
    problem = sc.sample(3, generator=make_generator(5)).to(dtype=torch.complex128)
    design = Average().design(problem)
    arrays = {"h": problem.h.numpy(), "r_t": problem.r_t.numpy(), "p": problem.p.numpy(),
              "power_s": problem.power_s, "noise_var": problem.noise_var,
              "num_symbols": problem.num_symbols, "alpha": problem.alpha,
              "w": design.w.numpy(), "s": design.extras["s"].numpy()}
    path = tmp_path / "qi.npz"
    np.savez(path, **arrays)
    report = tmp_path / "qi.json"
    code, out, err = run_cli(["evaluate", path, "--system", "qi_uplink", "--json", report],
                             capsys)
    assert code == 0, err
    ref = evaluate(problem, design)
    got = json.loads(report.read_text())["per_instance"]
    np.testing.assert_allclose(got["wsnr"], ref["wsnr"].numpy(), rtol=1e-10)
    designs = tmp_path / "designs.npz"
    code, out, err = run_cli(["evaluate", path, "--system", "qi_uplink", "--designer",
                              "average", "--out", designs], capsys)
    assert code == 0, err
    with np.load(designs) as saved:
        again = Design(w=torch.from_numpy(saved["w_average"]),
                       extras={"s": torch.from_numpy(saved["s_average"])})
    np.testing.assert_allclose(evaluate(problem, again)["wsnr"].numpy(), ref["wsnr"].numpy(),
                               rtol=1e-10)
    # a waveform whose length disagrees with num_symbols, and alpha out of range
    np.savez(path, **{**arrays, "s": arrays["s"][:, :5]})
    code, _, err = run_cli(["evaluate", path, "--system", "qi_uplink"], capsys)
    assert code == 2 and "num_symbols" in err
    np.savez(path, **{**arrays, "alpha": 1.5})
    code, _, err = run_cli(["evaluate", path, "--system", "qi_uplink"], capsys)
    assert code == 2 and "alpha" in err and "[0, 1]" in err


def test_temiz_leaderboard_ranks_wmmse_above_mrt(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "lb.json"
    code, out, err = run_cli(["leaderboard", "--batch", 16, "--slow-batch", 0, "--runs", "",
                              "--json", report], capsys)
    assert code == 0, err
    rows = json.loads(report.read_text())["rows"]
    order = [r["method"] for r in rows]
    assert order.index("wmmse") < order.index("mrt")
    by = {r["method"]: r for r in rows}
    assert by["dpc_bound"]["rank"] == "-" and by["dpc_bound"]["gap_pct"] == 0.0
    # the gap is the shortfall from the DPC capacity, which bounds every precoder
    for name in ("mrt", "zf", "mmse", "wmmse"):
        assert by[name]["gap_pct"] > 0
        assert by[name]["gap_pct"] == pytest.approx(
            100 * (1 - by[name]["sum_rate"] / by["dpc_bound"]["sum_rate"]))
    assert "sensing_only" not in by  # --slow-batch 0 leaves the convex designers out
