"""The experiment runner and its run folder: files, resume, refusal, plots, tables."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from isaclearn.core.errors import ConfigError, InputFileError
from isaclearn.experiments.plotting import GENERIC_PLOT, plot_run
from isaclearn.experiments.results import (
    FolderContext,
    format_table,
    read_progress,
    read_results_csv,
    summary_table,
    to_jsonable,
)
from isaclearn.experiments.runner import run_experiment
from isaclearn.systems import base
from isaclearn.systems.base import ExperimentSpec, PlotSpec, RunContext

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass
class FakeConfig:
    """A sweep over ``points``; each point records one row per method."""

    points: tuple[float, ...] = (0.0, 1.0, 2.0, 3.0)
    scale: float = 1.0
    seed: int = 0


class Calls:
    """Sweep points computed, and the index at which to simulate a crash."""

    keys: list[str] = []
    fail_at: int | None = None


def fake_fn(cfg: FakeConfig, ctx: RunContext) -> dict[str, Any]:
    for i, x in enumerate(ctx.progress(list(cfg.points), desc="points")):
        key = f"x={x:g}"
        if ctx.is_done(key):
            continue
        if Calls.fail_at is not None and i == Calls.fail_at:
            raise RuntimeError("simulated crash")
        Calls.keys.append(key)
        gen = torch.Generator().manual_seed(cfg.seed + i)
        noise = float(torch.rand((), generator=gen))
        ctx.record(key, [
            {"method": "a", "x": x, "y": cfg.scale * x + noise, "z": torch.tensor(2.0 * x)},
            {"method": "b", "x": x, "y": cfg.scale * x * x, "z": np.float32(x)},
        ])
        ctx.log(f"point {key} done")
    ys = torch.tensor([r["y"] for r in ctx.rows()])
    return {"num_rows": len(ctx.rows()), "y": ys, "mean_y": ys.mean(), "nan": math.nan}


@pytest.fixture
def fake_exp() -> Iterator[ExperimentSpec]:
    Calls.keys = []
    Calls.fail_at = None
    spec = base.register(ExperimentSpec(
        name="testsys.fake",
        fn=fake_fn,
        config_cls=FakeConfig,
        profiles={"quick": {}, "paper": {"points": (0.0, 1.0, 2.0, 3.0, 4.0, 5.0)}},
        description="a fake sweep",
        plots=[PlotSpec(filename="fake.png", x="x", y=["y", "z"], title="fake")],
    ))
    yield spec
    base._REGISTRY.pop(spec.name, None)


def test_run_writes_every_file(tmp_path: Path, fake_exp: ExperimentSpec,
                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    result = run_experiment("testsys.fake", out_dir=out, overrides={"scale": "2"}, seed=7)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["experiment"] == "testsys.fake" and cfg["profile"] == "quick"
    assert cfg["config"] == {"points": [0.0, 1.0, 2.0, 3.0], "scale": 2.0, "seed": 7}
    assert cfg["overrides"] == {"scale": "2"} and cfg["seed"] == 7
    for field in ("isaclearn_version", "git_commit", "torch_version", "started"):
        assert field in cfg
    rows = read_results_csv(out / "results.csv")
    assert len(rows) == 8
    assert list(rows[0]) == ["key", "method", "x", "y", "z"]
    assert rows[2] == {"key": "x=1", "method": "a", "x": 1.0, "y": pytest.approx(rows[2]["y"]),
                       "z": 2.0}
    assert rows[3]["y"] == 2.0  # scale * x * x
    summary = json.loads((out / "summary.json").read_text())
    assert summary["num_rows"] == 8 and len(summary["y"]) == 8 and summary["nan"] is None
    assert (out / "fake.png").read_bytes()[:8] == PNG_MAGIC
    assert len((out / "progress.jsonl").read_text().splitlines()) == 4
    assert result.new_keys == ["x=0", "x=1", "x=2", "x=3"] and result.resumed_keys == []
    printed = capsys.readouterr()
    assert "method" in printed.out and "x=3" in printed.out
    assert "point x=3 done" in printed.err


def test_default_out_dir(tmp_path: Path, fake_exp: ExperimentSpec,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_experiment("testsys.fake", profile="paper", quiet=True)
    assert result.out_dir == Path("runs/testsys.fake-paper")
    assert len(read_results_csv(tmp_path / "runs/testsys.fake-paper/results.csv")) == 12


def test_existing_folder_is_refused(tmp_path: Path, fake_exp: ExperimentSpec) -> None:
    out = tmp_path / "run"
    run_experiment("testsys.fake", out_dir=out, quiet=True)
    before = (out / "results.csv").read_text()
    with pytest.raises(ConfigError, match="already exists.*--resume.*--out"):
        run_experiment("testsys.fake", out_dir=out, quiet=True)
    assert (out / "results.csv").read_text() == before
    empty = tmp_path / "empty"
    empty.mkdir()
    run_experiment("testsys.fake", out_dir=empty, quiet=True)  # an empty folder is fine


def test_crash_keeps_finished_points_and_resume_completes(
        tmp_path: Path, fake_exp: ExperimentSpec) -> None:
    ref = run_experiment("testsys.fake", out_dir=tmp_path / "ref", quiet=True)
    Calls.keys = []
    Calls.fail_at = 2
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_experiment("testsys.fake", out_dir=out, quiet=True)
    assert Calls.keys == ["x=0", "x=1"]
    assert len(read_results_csv(out / "results.csv")) == 4
    assert not (out / "summary.json").exists()

    Calls.keys = []
    Calls.fail_at = None
    result = run_experiment("testsys.fake", out_dir=out, resume=True, quiet=True)
    assert Calls.keys == ["x=2", "x=3"]  # finished points are not recomputed
    assert result.resumed_keys == ["x=0", "x=1"]
    assert read_results_csv(out / "results.csv") == read_results_csv(ref.out_dir / "results.csv")
    assert (json.loads((out / "summary.json").read_text())
            == json.loads((ref.out_dir / "summary.json").read_text()))
    assert "resumed" in json.loads((out / "config.json").read_text())

    Calls.keys = []
    run_experiment("testsys.fake", out_dir=out, resume=True, quiet=True)
    assert Calls.keys == []  # a finished run resumes to the same results


def test_resume_with_other_config_is_refused(tmp_path: Path, fake_exp: ExperimentSpec) -> None:
    out = tmp_path / "run"
    run_experiment("testsys.fake", out_dir=out, quiet=True)
    with pytest.raises(ConfigError, match=r"differs.*scale \(saved 1.0, now 3.0\)"):
        run_experiment("testsys.fake", out_dir=out, overrides={"scale": 3}, resume=True,
                       quiet=True)
    with pytest.raises(ConfigError, match="seed"):
        run_experiment("testsys.fake", out_dir=out, seed=5, resume=True, quiet=True)


def test_resume_into_fresh_folder_and_non_run_folder(tmp_path: Path,
                                                     fake_exp: ExperimentSpec) -> None:
    with pytest.raises(ConfigError, match="does not exist, so there is nothing to resume"):
        run_experiment("testsys.fake", out_dir=tmp_path / "new", resume=True, quiet=True)
    assert not (tmp_path / "new").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="is empty, so there is nothing to resume"):
        run_experiment("testsys.fake", out_dir=tmp_path / "empty", resume=True, quiet=True)
    assert not any((tmp_path / "empty").iterdir())
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a run folder"):
        run_experiment("testsys.fake", out_dir=other, resume=True, quiet=True)


def test_truncated_progress_line_is_recomputed(tmp_path: Path, fake_exp: ExperimentSpec) -> None:
    out = tmp_path / "run"
    Calls.fail_at = 3
    with pytest.raises(RuntimeError):
        run_experiment("testsys.fake", out_dir=out, quiet=True)
    progress = out / "progress.jsonl"
    lines = progress.read_text().splitlines()
    progress.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])  # killed mid-write
    Calls.keys = []
    Calls.fail_at = None
    run_experiment("testsys.fake", out_dir=out, resume=True, quiet=True)
    assert Calls.keys == ["x=2", "x=3"]
    done, warnings = read_progress(progress)
    assert list(done) == ["x=0", "x=1", "x=2", "x=3"] and warnings == []


def test_bad_config_values(tmp_path: Path, fake_exp: ExperimentSpec) -> None:
    with pytest.raises(ConfigError, match="unknown config key 'nope'"):
        run_experiment("testsys.fake", out_dir=tmp_path / "a", overrides={"nope": "1"})
    with pytest.raises(ConfigError, match="scale"):
        run_experiment("testsys.fake", out_dir=tmp_path / "b", overrides={"scale": "big"})
    with pytest.raises(ConfigError, match="unknown profile"):
        run_experiment("testsys.fake", profile="huge", out_dir=tmp_path / "c")
    with pytest.raises(ConfigError, match="unknown experiment"):
        run_experiment("testsys.nope", out_dir=tmp_path / "d")
    with pytest.raises(ConfigError, match="device"):
        run_experiment("testsys.fake", out_dir=tmp_path / "e", device="cuda")
    assert not any((tmp_path / n).exists() for n in "abcde")


def test_plot_redraws_from_results_only(tmp_path: Path, fake_exp: ExperimentSpec) -> None:
    out = tmp_path / "run"
    run_experiment("testsys.fake", out_dir=out, quiet=True)
    (out / "fake.png").unlink()
    (out / "progress.jsonl").unlink()
    assert plot_run(out) == [out / "fake.png"]
    assert (out / "fake.png").read_bytes()[:8] == PNG_MAGIC
    before = (out / "fake.png").read_bytes()
    assert plot_run(out, errorbars=True) == [out / "fake_errorbars.png"]
    assert (out / "fake_errorbars.png").read_bytes()[:8] == PNG_MAGIC
    assert (out / "fake.png").read_bytes() == before


def test_plot_generic_and_bad_specs(tmp_path: Path, fake_exp: ExperimentSpec) -> None:
    out = tmp_path / "run"
    run_experiment("testsys.fake", out_dir=out, quiet=True)
    fake_exp.plots = [PlotSpec(filename="bad.png", x="nope", y=["y"])]
    warnings: list[str] = []
    with pytest.raises(ConfigError, match="no figure"):
        plot_run(out, warn=warnings.append)
    assert "no column nope" in warnings[0]
    fake_exp.plots = []
    assert plot_run(out) == [out / GENERIC_PLOT]
    with pytest.raises(InputFileError, match="config.json"):
        plot_run(tmp_path)


def test_folder_context_logs_progress_without_a_terminal(tmp_path: Path) -> None:
    stream = io.StringIO()
    ctx = FolderContext(tmp_path, stream=lambda: stream, log_interval_s=0.0)
    assert list(ctx.progress(range(3), desc="loop")) == [0, 1, 2]
    assert "loop: 3/3 done" in stream.getvalue()
    assert "loop: 3/3 done" in (tmp_path / "run.log").read_text()


def test_folder_context_rejects_bad_rows(tmp_path: Path) -> None:
    ctx = FolderContext(tmp_path, stream=io.StringIO)
    with pytest.raises(ConfigError, match="list of dicts"):
        ctx.record("k", {"a": 1})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="must be a dict"):
        ctx.record("k", [1])  # type: ignore[list-item]
    ctx.record("k", [{"a": math.inf, "b": [1, 2]}])
    assert read_results_csv(tmp_path / "results.csv") == [{"key": "k", "a": math.inf,
                                                           "b": "[1, 2]"}]


def test_to_jsonable() -> None:
    obj = {"t": torch.tensor([1.0, math.nan]), "c": torch.tensor(1 + 2j), "n": np.int64(3),
           "a": np.arange(2), "p": Path("x"), "s": {1}, "cfg": FakeConfig()}
    assert to_jsonable(obj) == {
        "t": [1.0, None], "c": {"re": 1.0, "im": 2.0}, "n": 3, "a": [0, 1], "p": "x",
        "s": [1], "cfg": {"points": [0.0, 1.0, 2.0, 3.0], "scale": 1.0, "seed": 0},
    }
    json.dumps(to_jsonable(obj), allow_nan=False)


def test_summary_table_means_per_method_and_point() -> None:
    rows = [
        {"key": "p1", "method": "a", "x": 1, "y": 1.0},
        {"key": "p1", "method": "a", "x": 1, "y": 3.0},
        {"key": "p1", "method": "b", "x": 1, "y": 5.0},
        {"key": "p2", "method": "a", "x": 2, "y": 7.0, "kind": "other"},
    ]
    cols, table = summary_table(rows, exclude=["x"])
    assert cols == ["key", "method", "y", "rows"]  # a line averages two rows: say so
    assert table == [{"key": "p1", "method": "a", "y": 2.0, "rows": 2},
                     {"key": "p1", "method": "b", "y": 5.0, "rows": 1},
                     {"key": "p2", "method": "a", "y": 7.0, "rows": 1}]
    cols, table = summary_table(rows, columns=["method", "y"], where={"kind": "other"})
    assert table == [{"method": "a", "y": 7.0}]
    text = format_table(table, cols)
    assert text.splitlines()[0].split() == ["method", "y"]


class _Rejected:
    """Raise a ConfigError at sweep point ``at`` (``0``: before any point is recorded)."""

    at: int = 0


def rejecting_fn(cfg: FakeConfig, ctx: RunContext) -> dict[str, Any]:
    assert ctx.out_dir is not None
    (ctx.out_dir / "models").mkdir(exist_ok=True)  # an artefact, e.g. a checkpoint folder
    for i, x in enumerate(cfg.points):
        if i == _Rejected.at:
            raise ConfigError("num_antennas must be >= 1, got -4")
        ctx.record(f"x={x:g}", [{"method": "a", "x": x, "y": x}])
    return {}


@pytest.fixture
def rejecting_exp() -> Iterator[ExperimentSpec]:
    spec = base.register(ExperimentSpec(name="testsys.rejecting", fn=rejecting_fn,
                                        config_cls=FakeConfig, profiles={"quick": {}}))
    yield spec
    base._REGISTRY.pop(spec.name, None)


@pytest.mark.parametrize("existing", [False, True], ids=["new-folder", "empty-folder"])
def test_rejected_fresh_run_leaves_nothing(tmp_path: Path, rejecting_exp: ExperimentSpec,
                                           capsys: pytest.CaptureFixture[str],
                                           existing: bool) -> None:
    """A fresh run rejected (IsacError) before its first sweep point removes what it made and
    prints no resume hint; the same --out is then usable."""
    _Rejected.at = 0
    out = tmp_path / "parent" / "x5"
    if existing:
        out.mkdir(parents=True)
    with pytest.raises(ConfigError, match="num_antennas"):
        run_experiment("testsys.rejecting", out_dir=out, quiet=True)
    assert "--resume" not in capsys.readouterr().err
    if existing:
        assert out.is_dir() and not any(out.iterdir())
    else:
        assert not (tmp_path / "parent").exists()  # the parents it created go too
    _Rejected.at = 99
    run_experiment("testsys.rejecting", out_dir=out, quiet=True)
    assert len(read_results_csv(out / "results.csv")) == 4


def test_rejected_run_after_a_point_keeps_it(tmp_path: Path, rejecting_exp: ExperimentSpec,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _Rejected.at = 2
    out = tmp_path / "x6"
    with pytest.raises(ConfigError):
        run_experiment("testsys.rejecting", out_dir=out, quiet=True)
    assert "2 finished sweep point(s) are saved" in capsys.readouterr().err
    assert len(read_results_csv(out / "results.csv")) == 2
    # a resumed run that is rejected keeps the folder as well
    with pytest.raises(ConfigError):
        run_experiment("testsys.rejecting", out_dir=out, resume=True, quiet=True)
    assert "--resume" in capsys.readouterr().err
    assert (out / "config.json").is_file()
