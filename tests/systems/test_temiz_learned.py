"""Tests of temiz_unsup's learned-precoder layer and experiments (tiny sizes)."""

from __future__ import annotations

import math

import pytest
import torch

from isaclearn.core import CheckpointError, ConfigError
from isaclearn.systems.base import MemoryContext, get_experiment
from isaclearn.systems.temiz_unsup.experiments import _parse_compressions, _peaks
from isaclearn.systems.temiz_unsup.learned import (
    VARIANTS,
    LearnSettings,
    ModelStore,
    find_networks,
    learned_designers,
)

TINY = dict(num_users=2, num_train=200, max_epochs=2, num_test=40, hidden=(16,), d_model=8,
            num_layers=1, num_beta=16, num_gamma=2, batch_size=50)


def _cfg(name: str, **extra: object) -> object:
    spec = get_experiment(f"temiz_unsup.{name}")
    fields = spec.config_cls.__dataclass_fields__
    return spec.config_cls(**{k: v for k, v in {**TINY, **extra}.items() if k in fields})


def test_experiments_are_registered_with_both_profiles() -> None:
    for name in ("tradeoff", "compression", "snr", "csi_error", "beampattern", "snr_definition"):
        spec = get_experiment(f"temiz_unsup.{name}")
        assert set(spec.profiles) >= {"quick", "paper"}
        spec.make_config("quick")
        spec.make_config("paper")
    paper = get_experiment("temiz_unsup.tradeoff").make_config("paper")
    assert paper.num_train == 1_000_000 and paper.num_test == 100_000
    assert paper.hidden == (128, 128, 128, 128) and paper.dropout == 0.1
    assert paper.batch_size == 500 and paper.lr == 1e-3


def test_tradeoff_rows_resume_and_model_reuse(tmp_path) -> None:
    spec = get_experiment("temiz_unsup.tradeoff")
    cfg = _cfg("tradeoff", antennas=(4,), rhos=(0.0, 1.0), sdr_instances=2, sdr_sinr_db=(0.0,),
               variants=("dnn", "struct_rho"), model_dir=str(tmp_path / "models"),
               per_rho_subset=(1.0,))
    ctx = MemoryContext()
    summary = spec.fn(cfg, ctx)
    sweep = [r for r in ctx.rows() if r["kind"] == "rho_sweep"]
    methods = {r["method"] for r in sweep}
    assert methods == {"mmse", "zf", "wmmse", "sensing_only", "dnn", "struct_rho"}
    wm = next(r["sum_rate"] for r in sweep if r["method"] == "wmmse")
    for r in sweep:
        assert math.isfinite(r["sum_rate"]) and math.isfinite(r["sum_crb_db"])
        if r["method"] in ("dnn", "struct_rho"):
            assert r["frac_wmmse"] == pytest.approx(r["sum_rate"] / wm)
            assert r["epochs"] == 2 and r["num_train"] == 190
    assert any(r["kind"] == "boundary" and r["method"] == "sdr" for r in ctx.rows())
    entry = summary["by_M"]["4"]["dnn"]
    assert entry["rho"] == [1.0] and "rho1_frac_wmmse" in entry  # per_rho_subset
    assert summary["by_M"]["4"]["struct_rho"]["rho"] == [0.0, 1.0]
    assert "best of MRT/ZF/RZF" in summary["wmmse_reference"]
    assert summary["sizes"]["used"]["max_train_time_s_per_network"] is None
    assert any("paper 10^6" in line for line in ctx.messages)
    # checkpoints and the beta/gamma cache were written; a second run reuses them
    assert (tmp_path / "models" / "dnn_M4_K2_snr20_rho1.00.safetensors").is_file()
    assert (tmp_path / "models" / "struct_rho_M4_K2_snr20.json").is_file()
    assert (tmp_path / "models" / "norm_M4_K2_snr20.json").is_file()
    ctx2 = MemoryContext()
    spec.fn(cfg, ctx2)
    again = {(r["method"], r["rho"]): r["sum_rate"] for r in ctx2.rows()
             if r["kind"] == "rho_sweep"}
    first = {(r["method"], r["rho"]): r["sum_rate"] for r in sweep}
    assert again == first
    # resume: finished keys are skipped (nothing is recomputed or re-recorded)
    calls = []
    ctx2.record = lambda key, rows: calls.append(key)  # type: ignore[method-assign]
    spec.fn(cfg, ctx2)
    assert calls == []
    # a different training configuration does not silently reuse the stored networks
    with pytest.raises(CheckpointError):
        spec.fn(_cfg("tradeoff", antennas=(4,), rhos=(1.0,), sdr_instances=2,
                     sdr_sinr_db=(0.0,), variants=("dnn",), model_dir=str(tmp_path / "models"),
                     lr=0.01), MemoryContext())


def test_compression_snr_csi_beampattern_smoke(tmp_path) -> None:
    models = str(tmp_path / "m")
    ctx = MemoryContext()
    get_experiment("temiz_unsup.compression").fn(
        _cfg("compression", num_antennas=4, variants=("dnn",), bits=(32, 6), prune=(0.0, 0.2),
             timing_batch=20, onnx=False, model_dir=models), ctx)
    grid = [r for r in ctx.rows() if r["kind"] == "grid"]
    assert len(grid) == 2 * 2 * 2  # two rho values x 2 bits x 2 fractions
    # the plots find the rate and CRB points whatever rho_rate / rho_crb are
    assert {(r["rho"], r["rate_point"], r["crb_point"]) for r in grid} == {(0.5, 1, 0),
                                                                             (0.2, 0, 1)}
    full = [r for r in grid if r["bits"] == 32 and r["prune"] == 0.0]
    assert all(r["rel_sum_rate"] == pytest.approx(1.0) for r in full)
    q6 = next(r for r in grid if r["bits"] == 6 and r["prune"] == 0.2)
    assert q6["complexity_paper"] == pytest.approx(6 * 0.8 / 32)
    timing = {r["method"]: r for r in ctx.rows() if r["kind"] == "timing"}
    assert {"wmmse_best_init", "wmmse_rzf_100it", "dnn (full)", "dnn (Q7_J0.1)"} <= set(timing)
    assert timing["dnn (full)"]["speedup_vs_wmmse_rzf_100it"] > 0

    ctx = MemoryContext()
    get_experiment("temiz_unsup.snr").fn(
        _cfg("snr", num_antennas=4, variants=("dnn",), snrs_db=(10.0, 20.0),
             compressions=("32/0", "5/0.2"), model_dir=models), ctx)
    snr_rows = [r for r in ctx.rows() if r.get("variant") == "dnn"]
    assert {(r["snr_db"], r["bits"]) for r in snr_rows} == {(10.0, 32), (10.0, 5), (20.0, 32),
                                                            (20.0, 5)}
    assert all(r["train_snr_db"] == 20.0 for r in snr_rows)

    ctx = MemoryContext()
    get_experiment("temiz_unsup.csi_error").fn(
        _cfg("csi_error", antennas=(4,), variants=("dnn",), mus=(0.0, 0.3), model_dir=models),
        ctx)
    csi = {(r["method"], r["mu"]): r["sum_rate"] for r in ctx.rows()}
    assert csi[("wmmse", 0.3)] < csi[("wmmse", 0.0)]  # errors hurt the CSI-based reference

    ctx = MemoryContext()
    summary = get_experiment("temiz_unsup.beampattern").fn(
        _cfg("beampattern", antennas=(4,), variants=("dnn",), rhos=(0.0,), grid_points=181,
             model_dir=models), ctx)
    pattern = [r for r in ctx.rows() if r["kind"] == "pattern"]
    assert len(pattern) == 2 * 181
    assert "rho0_max_peak_error_deg" in summary
    # every learned experiment states the sizes it used next to the paper's
    assert summary["sizes"]["paper"]["training_instances"] == 1_000_000
    assert summary["sizes"]["used"]["training_instances"] == TINY["num_train"]
    assert summary["sizes"]["used"]["test_instances"] == TINY["num_test"]


def test_snr_definition_readings() -> None:
    ctx = MemoryContext()
    summary = get_experiment("temiz_unsup.snr_definition").fn(
        _cfg("snr_definition", num_antennas=4, num_users=2, num_test=60,
             readings=("instance_mean:20", "per_user_unit:20", "absolute:30"),
             dpc_instances=20), ctx)
    rows = {(r["normalization"], r["method"]): r for r in ctx.rows()}
    # per-user normalization makes every user's per-antenna gain exactly 1: rx SNR = 20 dB
    assert rows[("per_user_unit", "wmmse")]["mean_rx_snr_db"] == pytest.approx(20.0, abs=1e-3)
    # the paper's absolute path loss with P = 1 W, noise 1e-3 W leaves almost no rate
    assert rows[("absolute", "wmmse")]["sum_rate"] < 0.1
    assert rows[("absolute", "wmmse")]["mean_rx_snr_db"] < -30
    assert summary["closest_to_36.1"] is not None
    # the DPC sum capacity bounds every linear precoder (same instances for dpc: the first 20)
    for norm in ("instance_mean", "per_user_unit"):
        assert rows[(norm, "dpc_bound")]["sum_rate"] > 0.9 * rows[(norm, "wmmse")]["sum_rate"]
    with pytest.raises(ConfigError):
        get_experiment("temiz_unsup.snr_definition").fn(
            _cfg("snr_definition", num_antennas=4, num_users=2, num_test=10,
                 readings=("bogus:20",)), MemoryContext())


def test_settings_and_store_checks(tmp_path) -> None:
    assert set(VARIANTS) == {"dnn", "dnn_scaled", "dnn_rho", "struct", "struct_rho",
                             "struct_cont", "struct_cont_up"}
    s = LearnSettings(num_users=2, hidden=(8,), max_train_time_s=5.0)
    assert s.train_config().max_time_s == 5.0
    assert LearnSettings(max_train_time_s=0.0).train_config().max_time_s is None
    with pytest.raises(ConfigError, match="unknown network variant"):
        s.net_config("transformer", 4)
    store = ModelStore(None, s, lambda _msg: None)
    with pytest.raises(ConfigError):
        store.designer("dnn", 1.5, 4)
    with pytest.raises(ConfigError):
        get_experiment("temiz_unsup.tradeoff").fn(_cfg("tradeoff", variants=("bogus",)),
                                                  MemoryContext())


@pytest.mark.parametrize(("variant", "rho", "chain", "off_grid", "off_start"), [
    ("struct_cont_up", 0.2, (0.0, 0.1, 0.2), 0.25, 0.2),
    ("struct_cont", 0.8, (1.0, 0.9, 0.8), 0.75, 0.8),
])
def test_continuation_chain_follows_the_grid(tmp_path, variant, rho, chain, off_grid,
                                             off_start) -> None:
    import json

    from isaclearn.learn import load_checkpoint, trained_weights, weights_digest

    s = LearnSettings(**{k: v for k, v in TINY.items() if k != "num_test"})
    store = ModelStore(tmp_path, s, lambda _m: None)
    _, info = store.designer(variant, rho, 4)
    stems = [f"{variant}_M4_K2_snr20_rho{r:.2f}" for r in chain]
    assert all((tmp_path / f"{st}.json").is_file() for st in stems)
    assert len(list(tmp_path.glob(f"{variant}_M4_*.json"))) == len(chain)  # nothing else
    assert info["init_from"] == stems[1]
    assert "init" not in json.loads((tmp_path / f"{stems[0]}.json").read_text())["config"]
    for prev, cur in zip(stems, stems[1:]):
        init = load_checkpoint(tmp_path / cur).config["init"]
        _, w_prev, _ = trained_weights(tmp_path / prev)
        assert init == {"from": prev, "weights_sha256": weights_digest(w_prev)}
    # off-grid rho starts from its grid neighbour; a new store reloads, bit for bit
    d1, info = store.designer(variant, off_grid, 4)
    assert info["init_from"] == f"{variant}_M4_K2_snr20_rho{off_start:.2f}"
    d2, _ = ModelStore(tmp_path, s, lambda _m: None).designer(variant, off_grid, 4)
    sd1, sd2 = d1.net.state_dict(), d2.net.state_dict()
    assert all(torch.equal(sd1[k], sd2[k]) for k in sd1)


def test_prepare_is_a_no_op_for_one_worker_and_chains(tmp_path) -> None:
    s = LearnSettings(**{k: v for k, v in TINY.items() if k != "num_test"})
    ModelStore(tmp_path, s, lambda _m: None).prepare("struct", [0.0, 1.0], 4)
    assert not list(tmp_path.glob("struct_*"))  # train_workers = 1: designer() trains
    s2 = LearnSettings(**{**{k: v for k, v in TINY.items() if k != "num_test"},
                          "train_workers": 2})
    ModelStore(tmp_path, s2, lambda _m: None).prepare("struct_cont", [0.0, 1.0], 4)
    assert not list(tmp_path.glob("struct_*"))  # a chain is never trained in parallel


@pytest.mark.slow
def test_prepare_on_ray_gives_the_sequential_networks(tmp_path) -> None:
    base = {k: v for k, v in TINY.items() if k != "num_test"}
    seq = ModelStore(tmp_path / "seq", LearnSettings(**base), lambda _m: None)
    par = ModelStore(tmp_path / "par", LearnSettings(**base, train_workers=2), lambda _m: None)
    par.prepare("struct", [0.0, 1.0], 4)
    assert (tmp_path / "par" / "struct_M4_K2_snr20_rho1.00.json").is_file()
    for rho in (0.0, 1.0):
        a = seq.designer("struct", rho, 4)[0].net.state_dict()
        b = par.designer("struct", rho, 4)[0].net.state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_peaks_and_compression_parsing() -> None:
    grid = torch.linspace(-90, 90, 361, dtype=torch.float64)
    pattern = torch.exp(-((grid + 10) / 3) ** 2) + 0.8 * torch.exp(-((grid - 25) / 3) ** 2)
    assert _peaks(grid, pattern, 2) == [-10.0, 25.0]
    assert _parse_compressions(("32/0", "7/0.1", "5")) == [(32, 0.0), (7, 0.1), (5, 0.0)]


def test_learned_designers_and_finding_networks(tmp_path) -> None:
    from isaclearn.learn import LearnedPrecoder, NetConfig, build_network, save_precoder

    torch.manual_seed(0)
    net = build_network(NetConfig(num_antennas=10, num_users=10, hidden=(8,)))
    save_precoder(tmp_path / "sub" / "mine", LearnedPrecoder(net, rho=1.0))
    (tmp_path / "other.json").write_text('{"format": "something else"}')
    (tmp_path / "broken.json").write_text("{")
    out = learned_designers([str(tmp_path / "sub" / "mine")])
    assert list(out) == ["learned:mine"] and out["learned:mine"].name == "learned:mine"
    assert learned_designers([]) == {}
    assert find_networks(tmp_path) == [tmp_path / "sub" / "mine"]
    assert find_networks(tmp_path / "absent") == []
    with pytest.raises(ConfigError, match="rho"):
        learned_designers([str(tmp_path / "sub" / "mine")], rho=2.0)


def test_bench_precoders_cli_times_a_checkpoint(tmp_path, capsys) -> None:
    """``isaclearn bench precoders --checkpoint`` is wired into the CLI (plugin loaded), keeps
    a stem with dots (``..._rho1.00``) intact and times the network next to a baseline."""
    from isaclearn.cli import main
    from isaclearn.learn import LearnedPrecoder, NetConfig, build_network, save_precoder

    torch.manual_seed(0)
    net = build_network(NetConfig(kind="structured", num_antennas=10, num_users=10, d_model=8,
                                  num_layers=1, num_heads=2))
    save_precoder(tmp_path / "net_rho1.00", LearnedPrecoder(net, rho=1.0))
    out_json = tmp_path / "bench.json"
    code = main(["bench", "precoders", "--batch", "16", "--convex-batch", "0", "--repeat", "1",
                 "--designers", "mmse,learned:net_rho1.00",
                 "--checkpoint", str(tmp_path / "net_rho1.00.safetensors"),
                 "--json", str(out_json)])
    assert code == 0, capsys.readouterr().err
    import json

    rows = {r["designer"]: r for r in json.loads(out_json.read_text())}
    assert set(rows) == {"mmse", "learned:net_rho1.00"}
    row = rows["learned:net_rho1.00"]
    assert row["valid_instances"] == 16 and row["seconds_per_instance"] > 0
    # a zero-initialized structured net is RZF with equal power per user, which beats MMSE's
    # RZF scaled as a whole at M = K
    assert row["sum_rate_mean"] > rows["mmse"]["sum_rate_mean"]
