"""The front door: ``temiz_unsup.demo`` (tiny sizes) and ``bench precoders`` defaults, floor
rows and the networks it finds under ``--runs``."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from isaclearn.systems.base import MemoryContext, get_experiment

TINY = dict(num_antennas=4, num_users=2, num_train=200, max_epochs=2, num_test=24,
            d_model=8, num_layers=1, num_heads=2, num_beta=16, num_gamma=2, batch_size=50,
            sdr_instances=2, sdr_sinr_db=(-10.0, 0.0), rhos=(1.0, 0.5), warmup_instances=2)


def _demo_config(**extra: object) -> object:
    spec = get_experiment("temiz_unsup.demo")
    fields = spec.config_cls.__dataclass_fields__
    return spec.config_cls(**{k: v for k, v in {**TINY, **extra}.items() if k in fields})


def test_demo_profiles_are_registered() -> None:
    spec = get_experiment("temiz_unsup.demo")
    assert {"quick", "paper"} <= set(spec.profiles)
    quick = spec.make_config("quick")
    assert quick.variants == ("struct",) and quick.rhos == (1.0, 0.5)
    # two networks within the ~90 s the front door allows
    assert 0 < quick.max_train_time_s * len(quick.rhos) <= 90
    assert quick.num_threads == 1


def test_demo_rows_table_plot_and_resume(tmp_path: Path) -> None:
    from isaclearn.experiments.plotting import draw_plot
    from isaclearn.experiments.runner import render_table

    class KeyedContext(MemoryContext):  # rows carry their sweep point, as in results.csv
        def record(self, key: str, rows: Sequence[dict[str, Any]]) -> None:
            super().record(key, [{**r, "key": key} for r in rows])

    spec = get_experiment("temiz_unsup.demo")
    cfg = _demo_config()
    ctx = KeyedContext(tmp_path)
    summary = spec.fn(cfg, ctx)
    rows = ctx.rows()
    methods = [r["method"] for r in rows if r["kind"] == "method"]
    assert methods == ["mrt", "zf", "mmse", "wmmse", "dpc_bound", "struct rho=1",
                       "struct rho=0.5", "sdr_boundary", "sdr_boundary"]
    by = {r["method"]: r for r in rows if r["kind"] == "method"}
    wmmse = by["wmmse"]["sum_rate"]
    for r in rows:
        if r["kind"] != "method":
            continue
        for col in ("sum_rate", "frac_wmmse", "seconds_per_instance", "instances"):
            assert col in r, (r["method"], col)
        assert r["frac_wmmse"] == pytest.approx(r["sum_rate"] / wmmse)
        assert r["seconds_per_instance"] > 0
    assert by["wmmse"]["frac_wmmse"] == 1.0
    # the bound bounds every precoder, and every precoder has a finite CRB
    for name in ("mrt", "zf", "mmse", "wmmse", "struct rho=1", "struct rho=0.5"):
        assert by[name]["sum_rate"] <= by["dpc_bound"]["sum_rate"] + 1e-6
        assert math.isfinite(by[name]["sum_crb_db"])
        assert by[name]["instances"] == cfg.num_test
    assert "train_time_s" in by["struct rho=1"] and by["struct rho=1"]["rho"] == 1.0
    sdr = [r for r in rows if r["method"] == "sdr_boundary"]
    assert [r["sinr_min_db"] for r in sdr] == [-10.0, 0.0]
    line = [r for r in rows if r["kind"] == "dpc_line"]
    assert len(line) == 2 and all(r["sum_rate"] == by["dpc_bound"]["sum_rate"] for r in line)
    assert summary["methods"]["struct rho=1"]["speedup_vs_wmmse"] > 0
    # the printed table and the rate-CRB figure come from these rows
    table = render_table(spec, rows)
    assert "struct rho=0.5" in table and "frac_wmmse" in table
    assert sum(line.startswith("sdr_boundary") for line in table.splitlines()) == 2
    png = draw_plot(rows, spec.plots[0], tmp_path / "rate_crb.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    # the networks are kept; a second call resumes: nothing is recomputed
    assert (tmp_path / "models" / "struct_M4_K2_snr20_rho1.00.json").is_file()
    n_msgs, n_rows = len(ctx.messages), len(rows)
    spec.fn(cfg, ctx)
    assert len(ctx.rows()) == n_rows
    assert not any(m.startswith("training struct") for m in ctx.messages[n_msgs:])


def test_demo_rejects_bad_settings() -> None:
    from isaclearn.core.errors import ConfigError

    spec = get_experiment("temiz_unsup.demo")
    for bad in ({"rhos": (1.5,)}, {"variants": ("nope",)}, {"num_test": 0}):
        with pytest.raises(ConfigError):
            spec.fn(_demo_config(**bad), MemoryContext())


# ------------------------------------------------------------------------------ bench


def _save_net(folder: Path, name: str, *, m: int = 10, k: int = 10, kind: str = "structured",
              rho_conditioned: bool = False, rho: float | None = 1.0) -> Path:
    from isaclearn.learn import LearnedPrecoder, NetConfig, build_network, save_precoder

    torch.manual_seed(0)
    net = build_network(NetConfig(kind=kind, num_antennas=m, num_users=k, d_model=8,
                                  num_layers=1, num_heads=2, hidden=(8,),
                                  rho_conditioned=rho_conditioned))
    save_precoder(folder / name, LearnedPrecoder(net, rho=rho if not rho_conditioned else 0.5))
    if rho_conditioned:  # a stored rho of None, as a ρ-conditioned network's training state
        side = folder / f"{name}.json"
        data = json.loads(side.read_text())
        data["config"]["rho"] = None
        side.write_text(json.dumps(data))
    return folder / name


def test_bench_defaults_and_full_profile() -> None:
    from isaclearn.systems.temiz_unsup.bench import resolve_options

    base = argparse.Namespace(batch=None, slow_batch=None, convex_batch=None, repeat=None,
                              full=False)
    quick = resolve_options(base)
    assert (quick.batch, quick.slow_batch, quick.convex_batch, quick.repeat) == (4096, 256, 2, 3)
    full = resolve_options(argparse.Namespace(**{**vars(base), "full": True}))
    assert (full.batch, full.slow_batch, full.convex_batch) == (4096, 4096, 4)
    mixed = resolve_options(argparse.Namespace(**{**vars(base), "full": True, "batch": 64,
                                                  "convex_batch": 0}))
    assert (mixed.batch, mixed.slow_batch, mixed.convex_batch) == (64, 64, 0)


def test_bench_finds_networks_and_reports_the_floor(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Default path with tiny sizes: the floor rows, the networks found under --runs (those
    for the problem's M and K, structured first, at most --max-networks) and their
    ratio_to_floor."""
    import os

    from isaclearn.cli import main

    runs = tmp_path / "runs"
    _save_net(runs / "a" / "models", "struct_a")
    _save_net(runs / "b", "struct_rho_b", rho_conditioned=True)
    _save_net(runs / "c", "dnn_c", kind="entrywise")
    _save_net(runs / "d", "struct_m8", m=8)
    os.utime(runs / "b" / "struct_rho_b.json", (1e9, 1e9))  # older: listed after struct_a
    report = tmp_path / "bench.json"
    code = main(["bench", "precoders", "--batch", "12", "--slow-batch", "3", "--repeat", "1",
                 "--convex-batch", "0", "--runs", str(runs), "--max-networks", "2",
                 "--json", str(report)])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = {r["designer"]: r for r in json.loads(report.read_text())}
    assert list(rows) == ["mrt", "zf", "mmse", "wmmse", "dpc_bound", "mlp_4x128",
                          "mlp_4x128+rzf", "mlp_4x128+rzf_lu", "learned:struct_a",
                          "learned:struct_rho_b"]
    assert "struct_a" in err and "rho 1" in err  # which networks were taken, and their rho
    assert rows["wmmse"]["batch"] == 3 and rows["dpc_bound"]["batch"] == 3
    assert rows["mmse"]["batch"] == 12 and rows["learned:struct_a"]["batch"] == 12
    floor = rows["mlp_4x128+rzf"]["seconds_per_instance"]
    for name in ("learned:struct_a", "learned:struct_rho_b"):
        r = rows[name]
        assert r["ratio_to_floor"] == pytest.approx(r["seconds_per_instance"] / floor)
        assert math.isfinite(r["sum_rate_mean"])
    # the floor with RZF designs RZF; the bare MLP row is timed only
    assert rows["mlp_4x128+rzf"]["sum_rate_mean"] == pytest.approx(rows["mmse"]["sum_rate_mean"])
    assert rows["mlp_4x128+rzf_lu"]["sum_rate_mean"] == rows["mmse"]["sum_rate_mean"]
    assert rows["mlp_4x128+rzf_lu"]["ratio_to_floor"] == pytest.approx(
        rows["mlp_4x128+rzf_lu"]["seconds_per_instance"] / floor)
    assert rows["mlp_4x128"]["sum_rate_mean"] is None
    assert "ratio_to_floor" in out and "x the mlp_4x128+rzf floor" in err

    # --checkpoint replaces the search
    code = main(["bench", "precoders", "--batch", "4", "--repeat", "1", "--convex-batch", "0",
                 "--runs", str(runs), "--designers", "learned:dnn_c,mlp_4x128+rzf",
                 "--checkpoint", str(runs / "c" / "dnn_c"), "--json", str(report)])
    assert code == 0, capsys.readouterr().err
    assert [r["designer"] for r in json.loads(report.read_text())] == [
        "learned:dnn_c", "mlp_4x128+rzf"]


def test_floor_rzf_by_cholesky_is_mmse(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fair floor's RZF (Cholesky factor of the Gram matrix) is ``mmse`` (LU) in complex128
    to rounding, meets the power, and falls back to ``mmse`` when a factorization fails."""
    from isaclearn.core.linalg import fro_norm_sq
    from isaclearn.core.random import make_generator
    from isaclearn.solvers import mmse
    from isaclearn.systems.temiz_unsup.bench import rzf_cholesky

    gen = make_generator(11)
    h = torch.complex(torch.randn(7, 5, 6, generator=gen, dtype=torch.float64),
                      torch.randn(7, 5, 6, generator=gen, dtype=torch.float64))
    w = rzf_cholesky(h, 2.0, 0.05)
    assert w.shape == (7, 6, 5) and w.dtype == torch.complex128
    torch.testing.assert_close(w, mmse(h, 2.0, 0.05), atol=1e-12, rtol=1e-10)
    # the RZF condition W^H (H^H H + alpha I) = c H^H from an explicit per-instance inverse
    for b in range(7):
        hb = h[b]
        want = hb.mH @ torch.linalg.inv(hb @ hb.mH + 5 * 0.05 / 2.0 * torch.eye(5,
                                                                        dtype=h.dtype))
        want = want * (2.0 / float(fro_norm_sq(want))) ** 0.5
        torch.testing.assert_close(w[b], want, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(fro_norm_sq(w), torch.full((7,), 2.0, dtype=torch.float64))

    def failing(g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return g, torch.ones(g.shape[:-2], dtype=torch.int32)

    monkeypatch.setattr(torch.linalg, "cholesky_ex", failing)
    assert torch.equal(rzf_cholesky(h, 2.0, 0.05), mmse(h, 2.0, 0.05))
