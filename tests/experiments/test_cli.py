"""The ``isaclearn`` command line, run in-process through ``main`` (plus one real subprocess).

Every user error must give one line ``isaclearn: error: ...`` on stderr, exit code 2 and no
traceback; the bad inputs themselves are the corpus of ``test_bad_inputs.py``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.io
import torch

from isaclearn.channels.downlink import DownlinkProblem
from isaclearn.cli import main
from isaclearn.core.design import Design
from isaclearn.core.linalg import herm, scale_to_power
from isaclearn.experiments.results import read_results_csv
from isaclearn.systems import base, temiz_unsup
from isaclearn.systems.base import ExperimentSpec, PlotSpec, RunContext

B, K, M = 3, 4, 5


def run_cli(args: Sequence[object], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code: int, err: str, *words: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("isaclearn: error: ")
    for word in words:
        assert word in lines[0], (word, lines[0])


# --------------------------------------------------------------------------- evaluate


def design_arrays(seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    h = (rng.standard_normal((B, K, M)) + 1j * rng.standard_normal((B, K, M))) / math.sqrt(2)
    w = rng.standard_normal((B, M, K)) + 1j * rng.standard_normal((B, M, K))
    w /= np.linalg.norm(w, axis=(1, 2), keepdims=True)
    return {"H": h, "W": w, "theta": np.deg2rad([-10.0, 25.0]), "noise_var": 0.01,
            "radar_snr": 100.0, "num_rx": 10, "num_symbols": 2}


def save(path: Path, data: dict[str, Any]) -> Path:
    if path.suffix == ".npz":
        np.savez(path, **data)
    else:
        scipy.io.savemat(path, data)
    return path


def direct_metrics(data: dict[str, Any]) -> dict[str, torch.Tensor]:
    problem = DownlinkProblem(
        h=torch.as_tensor(data["H"], dtype=torch.complex128),
        theta=torch.as_tensor(data["theta"], dtype=torch.float64),
        noise_var=data["noise_var"], radar_snr=data["radar_snr"], num_rx=data["num_rx"],
        num_symbols=data["num_symbols"],
    )
    return temiz_unsup.evaluate(problem, torch.as_tensor(data["W"], dtype=torch.complex128))


@pytest.mark.parametrize("suffix", [".npz", ".mat"])
def test_evaluate_matches_direct_evaluation(tmp_path: Path, suffix: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    data = design_arrays()
    path = save(tmp_path / f"design{suffix}", data)
    report = tmp_path / "scores.json"
    code, out, err = run_cli(["evaluate", path, "--json", report], capsys)
    assert code == 0, err
    ref = direct_metrics(data)
    for metric in ("sum_rate", "min_rate", "sum_crb", "sum_crb_db", "sum_crb_approx",
                   "crb_fairness", "rate_fairness", "power"):
        assert metric in out
    got = json.loads(report.read_text())
    assert got["batch"] == B
    for metric, value in ref.items():
        np.testing.assert_allclose(got["per_instance"][metric], value.numpy(), rtol=1e-10)
        if value.dim() == 1:
            assert got["mean"][metric] == pytest.approx(float(value.mean()), rel=1e-10)
    assert np.asarray(got["per_instance"]["crb"]).shape == (B, 2)
    assert np.asarray(got["per_instance"]["rates"]).shape == (B, K)
    assert got["units"]["sum_rate"] == "bit/s/Hz" and got["units"]["crb"].startswith("rad^2")
    # the printed mean sum rate is the direct one
    line = next(s for s in out.splitlines() if s.startswith("sum_rate "))
    assert float(line.split()[1]) == pytest.approx(float(ref["sum_rate"].mean()), rel=1e-3)


def test_evaluate_with_designers_and_checkpoint(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """``--designer`` / ``--checkpoint`` design on the file's channels (W then optional); each
    design's scores equal a direct evaluation of that designer on the same problem."""
    from isaclearn.learn import LearnedPrecoder, NetConfig, build_network, save_precoder
    from isaclearn.solvers import MMSE

    data = design_arrays(1)
    torch.manual_seed(0)
    net = build_network(NetConfig(kind="structured", num_antennas=M, num_users=K, d_model=8,
                                  num_layers=1, num_heads=2))
    designer = LearnedPrecoder(net, rho=1.0)
    save_precoder(tmp_path / "net_rho1.00", designer)
    no_w = save(tmp_path / "no_w.npz", _drop("W")(data))
    report = tmp_path / "cmp.json"
    code, out, err = run_cli(["evaluate", no_w, "--designer", "mmse", "--checkpoint",
                              tmp_path / "net_rho1.00.json", "--json", report], capsys)
    assert code == 0, err
    got = json.loads(report.read_text())["designs"]
    assert list(got) == ["mmse", "learned:net_rho1.00"]
    problem = DownlinkProblem(
        h=torch.as_tensor(data["H"], dtype=torch.complex128),
        theta=torch.as_tensor(data["theta"], dtype=torch.float64),
        noise_var=data["noise_var"], radar_snr=data["radar_snr"], num_rx=data["num_rx"],
        num_symbols=data["num_symbols"],
    )
    for name, d in (("mmse", MMSE()), ("learned:net_rho1.00", designer)):
        ref = temiz_unsup.evaluate(problem, d.design(problem).w)
        np.testing.assert_allclose(got[name]["per_instance"]["sum_rate"],
                                   ref["sum_rate"].numpy(), rtol=1e-6)
        assert got[name]["valid_instances"] == B
    assert "learned:net_rho1.00" in out
    # with W in the file, the file's design is scored too, first
    code, out, err = run_cli(["evaluate", save(tmp_path / "w.npz", data), "--designer", "mrt",
                              "--json", report], capsys)
    assert code == 0, err
    got = json.loads(report.read_text())["designs"]
    assert list(got) == ["file", "mrt"]
    np.testing.assert_allclose(got["file"]["per_instance"]["sum_rate"],
                               direct_metrics(data)["sum_rate"].numpy(), rtol=1e-10)
    # clear one-line errors: unknown designer, network built for another size
    code, _, err = run_cli(["evaluate", no_w, "--designer", "nosuch"], capsys)
    assert_user_error(code, err, "unknown designer nosuch")
    save_precoder(tmp_path / "big", LearnedPrecoder(build_network(NetConfig(
        kind="structured", num_antennas=M + 2, num_users=K, d_model=8, num_layers=1,
        num_heads=2)), rho=1.0))
    code, _, err = run_cli(["evaluate", no_w, "--checkpoint", tmp_path / "big"], capsys)
    assert_user_error(code, err, f"M = {M + 2}", f"M = {M}")
    # without a designer, W stays required
    code, _, err = run_cli(["evaluate", no_w], capsys)
    assert_user_error(code, err, "missing key", "W")


def _drop(key: str) -> Any:
    return lambda d: {k: v for k, v in d.items() if k != key}


def _set(key: str, value: Any) -> Any:
    return lambda d: {**d, key: value}


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["--help"], capsys)
    assert code == 0 and "evaluate" in out and "bench" in out


# --------------------------------------------------------------------------- run / plot


@dataclass
class TinyConfig:
    """Three sweep points."""

    points: tuple[int, ...] = (1, 2, 3)
    offset: float = 0.0


class Calls:
    keys: list[str] = []
    fail_after: int | None = None


def tiny_fn(cfg: TinyConfig, ctx: RunContext) -> dict[str, Any]:
    for p in ctx.progress(list(cfg.points), desc="points"):
        key = f"p{p}"
        if ctx.is_done(key):
            continue
        if Calls.fail_after is not None and len(Calls.keys) >= Calls.fail_after:
            raise KeyboardInterrupt
        Calls.keys.append(key)
        ctx.record(key, [{"method": m, "p": p, "score": p * (i + 1) + cfg.offset}
                         for i, m in enumerate(("alpha", "beta"))])
    return {"total": sum(r["score"] for r in ctx.rows())}


@pytest.fixture
def tiny_exp() -> Iterator[ExperimentSpec]:
    Calls.keys = []
    Calls.fail_after = None
    spec = base.register(ExperimentSpec(
        name="testcli.tiny", fn=tiny_fn, config_cls=TinyConfig,
        profiles={"quick": {}, "paper": {"points": (1, 2, 3, 4)}},
        description="tiny test experiment",
        plots=[PlotSpec(filename="score.png", x="p", y=["score"])],
    ))
    yield spec
    base._REGISTRY.pop(spec.name, None)


def test_list(tiny_exp: ExperimentSpec, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["list"], capsys)
    assert code == 0
    assert "temiz_unsup" in out and "testcli.tiny" in out and "tiny test experiment" in out
    assert "quick,paper" in out and "precoders" in out


def test_run_writes_folder(tmp_path: Path, tiny_exp: ExperimentSpec,
                           capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "r"
    code, out, err = run_cli(["run", "testcli.tiny", "--out", out_dir, "--set", "offset=0.5",
                              "--profile", "paper"], capsys)
    assert code == 0, err
    for name in ("config.json", "results.csv", "summary.json", "score.png", "progress.jsonl"):
        assert (out_dir / name).is_file(), name
    cfg = json.loads((out_dir / "config.json").read_text())
    assert cfg["config"] == {"points": [1, 2, 3, 4], "offset": 0.5}
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["total"] == 34.0 and set(summary) == {"total", "table"}
    assert len(read_results_csv(out_dir / "results.csv")) == 8
    assert "alpha" in out and "beta" in out and "score" in out


def test_run_refuses_existing_folder(tmp_path: Path, tiny_exp: ExperimentSpec,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "r"
    assert run_cli(["run", "testcli.tiny", "--out", out_dir], capsys)[0] == 0
    code, _, err = run_cli(["run", "testcli.tiny", "--out", out_dir], capsys)
    assert_user_error(code, err, "already exists", "--resume", "--out")


def test_run_resume_after_interruption(tmp_path: Path, tiny_exp: ExperimentSpec,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    ref = tmp_path / "ref"
    assert run_cli(["run", "testcli.tiny", "--out", ref], capsys)[0] == 0
    Calls.keys = []
    Calls.fail_after = 1
    out_dir = tmp_path / "r"
    code, _, err = run_cli(["run", "testcli.tiny", "--out", out_dir], capsys)
    assert code == 130 and "--resume" in err
    assert Calls.keys == ["p1"]
    assert len(read_results_csv(out_dir / "results.csv")) == 2

    Calls.fail_after = None
    code, _, err = run_cli(["run", "testcli.tiny", "--out", out_dir, "--resume"], capsys)
    assert code == 0, err
    assert Calls.keys == ["p1", "p2", "p3"]  # p1 computed once
    assert read_results_csv(out_dir / "results.csv") == read_results_csv(ref / "results.csv")
    assert (out_dir / "summary.json").read_text() == (ref / "summary.json").read_text()

    code, _, err = run_cli(["run", "testcli.tiny", "--out", out_dir, "--resume",
                            "--set", "offset=1"], capsys)
    assert_user_error(code, err, "cannot resume", "offset")


def test_plot_command(tmp_path: Path, tiny_exp: ExperimentSpec,
                      capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "r"
    assert run_cli(["run", "testcli.tiny", "--out", out_dir], capsys)[0] == 0
    before = (out_dir / "score.png").read_bytes()
    code, out, err = run_cli(["plot", out_dir, "--errorbars"], capsys)
    assert code == 0, err
    assert (out_dir / "score_errorbars.png").read_bytes()[:4] == b"\x89PNG"
    assert "score_errorbars.png" in out
    assert (out_dir / "score.png").read_bytes() == before  # the default figure is kept
    (out_dir / "score.png").unlink()
    assert run_cli(["plot", out_dir], capsys)[0] == 0
    assert (out_dir / "score.png").read_bytes()[:4] == b"\x89PNG"
    code, _, err = run_cli(["plot", tmp_path / "absent"], capsys)
    assert_user_error(code, err, "absent")


# --------------------------------------------------------------------------- bench


class FakeDesigner:
    """Matched filter (instant); ``nan_first`` marks instance 0 infeasible (NaN) as the convex
    designers do."""

    def __init__(self, name: str, nan_first: bool = False) -> None:
        self.name = name
        self.calls = 0
        self.nan_first = nan_first

    def design(self, problem: DownlinkProblem) -> Design:
        self.calls += 1
        w = scale_to_power(herm(problem.csi), problem.power)
        if self.nan_first:
            w[0] = math.nan
        return Design(w=w)


@pytest.fixture
def fake_designers(monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeDesigner]:
    made: dict[str, FakeDesigner] = {}

    def baseline_designers(*, include_convex: bool = True, **_: Any) -> dict[str, FakeDesigner]:
        names = ["mrt", "wmmse"] + (["fake_convex"] if include_convex else [])
        made.update({n: FakeDesigner(n, nan_first=n == "fake_convex") for n in names})
        return dict(made)

    def dpc(h: torch.Tensor, power: float, noise_var: float) -> torch.Tensor:
        return torch.full(h.shape[:-2], 42.0)

    import isaclearn.solvers
    from isaclearn.systems.temiz_unsup import designers

    monkeypatch.setattr(designers, "baseline_designers", baseline_designers)
    monkeypatch.setattr(designers, "CONVEX_DESIGNERS", frozenset({"fake_convex"}))
    monkeypatch.setattr(isaclearn.solvers, "dpc_sum_capacity", dpc, raising=False)
    return made


def test_bench_precoders_json(tmp_path: Path, fake_designers: dict[str, FakeDesigner],
                              capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "bench.json"
    code, out, err = run_cli(["bench", "precoders", "--batch", 8, "--antennas", 4, "--users", 3,
                              "--convex-batch", 2, "--repeat", 2, "--runs", tmp_path / "none",
                              "--json", report], capsys)
    assert code == 0, err
    rows = {r["designer"]: r for r in json.loads(report.read_text())}
    assert list(rows) == ["mrt", "wmmse", "fake_convex", "dpc_bound", "mlp_4x128",
                          "mlp_4x128+rzf", "mlp_4x128+rzf_lu"]
    for r in rows.values():
        for field in ("designer", "seconds_per_instance", "sum_rate_mean", "batch",
                      "ratio_to_wmmse", "ratio_to_floor"):
            assert field in r
        assert r["seconds_per_instance"] > 0
        assert r["ratio_to_floor"] == pytest.approx(
            r["seconds_per_instance"] / rows["mlp_4x128+rzf"]["seconds_per_instance"])
    assert rows["mlp_4x128+rzf"]["ratio_to_floor"] == 1.0
    assert rows["mlp_4x128"]["sum_rate_mean"] is None  # a random network's output: time only
    assert rows["mlp_4x128+rzf"]["batch"] == 8 and "ratio_to_floor" in out
    assert rows["mrt"]["batch"] == 8 and rows["fake_convex"]["batch"] == 2
    assert rows["mrt"]["valid_instances"] == 8 and rows["fake_convex"]["valid_instances"] == 1
    assert math.isfinite(rows["fake_convex"]["sum_rate_mean"])
    assert rows["wmmse"]["ratio_to_wmmse"] == 1.0
    assert rows["dpc_bound"]["sum_rate_mean"] == 42.0
    assert fake_designers["mrt"].calls == 3  # one warm-up, then --repeat
    assert rows["mrt"]["sum_rate_mean"] == pytest.approx(rows["wmmse"]["sum_rate_mean"])
    assert "seconds_per_instance" in out and "dpc_bound" in out


def test_bench_single_start_wmmse_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--single-start-wmmse`` adds WMMSE from the RZF start alone; the reference (best of
    three starts, one of them RZF) cannot be worse on average."""
    report = tmp_path / "w.json"
    code, _, err = run_cli(["bench", "precoders", "--batch", 6, "--antennas", 4, "--users", 4,
                            "--convex-batch", 0, "--repeat", 1, "--designers", "wmmse,wmmse_rzf",
                            "--single-start-wmmse", "--json", report], capsys)
    assert code == 0, err
    rows = {r["designer"]: r for r in json.loads(report.read_text())}
    assert set(rows) == {"wmmse", "wmmse_rzf"}
    assert rows["wmmse"]["sum_rate_mean"] >= rows["wmmse_rzf"]["sum_rate_mean"] - 1e-9
    assert rows["wmmse_rzf"]["ratio_to_wmmse"] > 0
    code, _, err = run_cli(["bench", "precoders", "--batch", 2, "--convex-batch", 0,
                            "--designers", "wmmse_rzf"], capsys)
    assert code == 2 and "unknown designer wmmse_rzf" in err


def test_bench_designer_selection(tmp_path: Path, fake_designers: dict[str, FakeDesigner],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "b.json"
    code, _, err = run_cli(["bench", "precoders", "--batch", 4, "--antennas", 3,
                            "--users", 2, "--repeat", 1, "--designers", "fake_convex,mrt",
                            "--json", report], capsys)
    assert code == 0, err
    rows = json.loads(report.read_text())
    assert [r["designer"] for r in rows] == ["fake_convex", "mrt"]
    assert rows[0]["ratio_to_wmmse"] is None  # WMMSE not timed

    code, _, err = run_cli(["bench", "precoders", "--batch", 4, "--designers", "nope",
                            "--runs", ""], capsys)
    assert_user_error(code, err, "--designers", "nope", "mrt")
    code, _, err = run_cli(["bench", "precoders", "--batch", 0], capsys)
    assert_user_error(code, err, "--batch")


# --------------------------------------------------------------------------- installed command


def test_installed_command_smoke(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "isaclearn"
    if not exe.exists():
        pytest.skip("isaclearn console script not installed next to the interpreter")
    proc = subprocess.run([str(exe), "evaluate", str(tmp_path / "absent.npz")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("isaclearn: error: ")
    assert "no such file" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_bench_suites_come_from_the_systems() -> None:
    from isaclearn.systems.base import bench_suites

    suites = bench_suites()
    assert {"precoders", "uplink"} <= set(suites)
    assert suites["precoders"][0].name == "temiz_unsup"
    assert suites["uplink"][0].name == "qi_uplink"
    # a system's name runs its first suite
    assert suites["temiz_unsup"][1] is suites["precoders"][1]
