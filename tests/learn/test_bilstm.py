"""Tests of isaclearn.learn.bilstm: the feature layout against an explicit loop, padding
invariance against unpadded single-sequence passes, the masked losses against explicit loops,
the projection against its optimality condition, determinism and learning through ``fit``,
checkpoints, and the input guards."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from isaclearn.core import CheckpointError, ConfigError, ShapeError, ValueRangeError
from isaclearn.learn import TrainConfig, fit, save_model, weights_digest
from isaclearn.learn.bilstm import (
    AssignmentTask,
    BeamTask,
    BiLstmConfig,
    BiLstmNet,
    VehicleSequences,
    assignment_accuracy,
    beam_mse,
    beams_to_real,
    feature_size,
    load_bilstm,
    predict_assignment,
    predict_beams,
    project_beams,
    real_to_beams,
    save_bilstm,
    train_bilstm,
    vehicle_features,
    vehicle_mask,
    vehicle_order,
)

NT, NR = 2, 3
FEAT = feature_size(NT, NR)


def _cfg(head: str = "assign", **kw: object) -> BiLstmConfig:
    base: dict[str, object] = dict(num_tx=NT, num_rx=NR, head=head, hidden_size=8,
                                   num_layers=2, dense_width=12, seed=3)
    base.update(kw)
    return BiLstmConfig(**base)  # type: ignore[arg-type]


def _data(s: int, k: int, seed: int, *, head: str = "assign") -> VehicleSequences:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(s, k, FEAT, generator=g)
    lengths = torch.randint(1, k + 1, (s,), generator=g)
    if head == "assign":
        t = torch.randint(0, 2, (s, k), generator=g)
    else:
        t = torch.randn(s, k, 2 * NT, generator=g)
    return VehicleSequences(x, lengths, t)


# --------------------------------------------------------------------------------------------
# features
# --------------------------------------------------------------------------------------------


def test_feature_size_and_layout_match_an_explicit_loop() -> None:
    assert feature_size(32, 32) == 260 and feature_size(NT, NR) == 2 * (2 * NR + 2 * NT + 2)
    g = torch.Generator().manual_seed(0)
    s, i_, k = 2, 2, 4
    r = torch.randn(s, i_, k, NR, dtype=torch.complex128, generator=g)
    f = torch.randn(s, i_, k, NT, dtype=torch.complex128, generator=g)
    nu = torch.rand(s, i_, k, dtype=torch.float64, generator=g) * 4e-7
    mu = torch.randn(s, i_, k, dtype=torch.float64, generator=g) * 6e3
    out = vehicle_features(r, f, nu, mu)
    assert out.shape == (s, k, FEAT) and out.dtype == torch.float64
    for a in range(s):
        for v in range(k):
            ref: list[float] = []
            for i in range(i_):
                ref += [float(z.real) for z in r[a, i, v]] + [float(z.imag) for z in r[a, i, v]]
                ref += [float(z.real) for z in f[a, i, v]] + [float(z.imag) for z in f[a, i, v]]
                ref += [float(nu[a, i, v]), float(mu[a, i, v])]
            assert out[a, v].tolist() == ref


def test_feature_shape_errors() -> None:
    r = torch.zeros(1, 2, 3, NR, dtype=torch.complex64)
    f = torch.zeros(1, 2, 3, NT, dtype=torch.complex64)
    z = torch.zeros(1, 2, 3)
    with pytest.raises(ShapeError, match="r_tilde"):
        vehicle_features(r.real, f, z, z)
    with pytest.raises(ShapeError, match="f_prev"):
        vehicle_features(r, f[:, :1], z, z)
    with pytest.raises(ShapeError, match="mu"):
        vehicle_features(r, f, z, z[..., :2])
    with pytest.raises(ConfigError):
        feature_size(0, 4)


def test_vehicle_order_sorts_real_vehicles_and_keeps_padding_last() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 7, generator=g) * 30
    lengths = torch.randint(1, 8, (6,), generator=g)
    order = vehicle_order(x, lengths)
    for s in range(6):
        n = int(lengths[s])
        ref = sorted(range(n), key=lambda j: float(x[s, j])) + list(range(n, 7))
        assert order[s].tolist() == ref


# --------------------------------------------------------------------------------------------
# network
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("head", ["assign", "beam"])
def test_shapes_dtype_device_and_zero_padding(head: str, device: str) -> None:
    net = BiLstmNet(_cfg(head)).to(device)
    d = _data(5, 6, 0, head=head)
    y = net(d.features.to(device), d.lengths.to(device))
    out = 2 if head == "assign" else 2 * NT
    assert y.shape == (5, 6, out) and y.dtype == torch.float32 and y.device.type == device
    mask = vehicle_mask(d.lengths, 6).to(device)
    assert bool((y[~mask] == 0).all()) and bool((y[mask] != 0).any())


def test_default_sizes_and_parameter_count() -> None:
    """Spec §1 proposal (2 × Bi-LSTM(128), Dense 256) at N = 32; PyTorch's weights per
    direction and layer are eq. (52)'s 4[h(h+e)+h] plus a second bias vector of 4h."""
    cfg = BiLstmConfig(num_tx=32, num_rx=32)
    assert (cfg.num_features, cfg.hidden_size, cfg.num_layers, cfg.dense_width) == (260, 128, 2,
                                                                                    256)
    net = BiLstmNet(cfg)
    h = 128
    lstm = sum(2 * (4 * (h * (h + e) + h) + 4 * h) for e in (260, 2 * h))
    dense = (2 * h + 1) * 256 + (256 + 1) * 2
    assert sum(p.numel() for p in net.parameters()) == lstm + dense
    assert not any(isinstance(m, torch.nn.Dropout) for m in net.modules())
    assert net.lstm.dropout == 0 and net.lstm.bidirectional


@pytest.mark.parametrize("head", ["assign", "beam"])
def test_outputs_of_real_vehicles_do_not_depend_on_padding(head: str) -> None:
    """Each slot alone and unpadded (the reference) vs the slots batched and padded to a longer
    K with garbage (large values and NaN) in the padding."""
    net = BiLstmNet(_cfg(head)).eval()
    d = _data(6, 5, 2, head=head)
    net.feature_mean.copy_(torch.linspace(-1, 1, FEAT))
    net.feature_std.copy_(torch.linspace(0.5, 2, FEAT))
    k_long = 9
    x = torch.full((6, k_long, FEAT), 1e6)
    x[:, :5] = d.features
    mask5 = vehicle_mask(d.lengths, 5)
    x[:, :5][~mask5] = math.nan
    x[0, 7] = math.nan
    with torch.no_grad():
        y = net(x, d.lengths)
        for s in range(6):
            n = int(d.lengths[s])
            ref = net(d.features[s:s + 1, :n], torch.tensor([n]))
            torch.testing.assert_close(y[s:s + 1, :n], ref, rtol=0, atol=1e-6)
    assert bool(torch.isfinite(y).all())


def test_both_directions_are_used() -> None:
    """The first vehicle's output depends on the last real vehicle (backward direction) and
    the last one's on the first (forward); neither depends on padding."""
    net = BiLstmNet(_cfg()).eval()
    g = torch.Generator().manual_seed(4)
    x = torch.randn(1, 6, FEAT, generator=g)
    lengths = torch.tensor([4])
    x2 = x.clone()
    x2[0, 3] += 1.0
    x3 = x.clone()
    x3[0, 0] += 1.0
    with torch.no_grad():
        y, y2, y3 = net(x, lengths), net(x2, lengths), net(x3, lengths)
    assert float((y[0, 0] - y2[0, 0]).abs().max()) > 1e-4
    assert float((y[0, 3] - y3[0, 3]).abs().max()) > 1e-4


def test_normalisation_is_fitted_on_real_vehicles_only() -> None:
    net = BiLstmNet(_cfg())
    d = _data(30, 5, 5)
    x = d.features.clone().double()
    scale = torch.logspace(-8, 4, FEAT, dtype=torch.float64)
    x = x * scale + 3 * scale
    x[:, :, 4] = 2e-7  # constant: keeps scale 1
    mask = vehicle_mask(d.lengths, 5)
    x[~mask] = 1e9  # padding must not enter the statistics
    net.fit_normalisation(x, d.lengths, chunk=7)
    real = x[mask]
    mean = real.mean(0)
    std = real.std(0, unbiased=False)
    std[4] = 1.0
    torch.testing.assert_close(net.feature_mean, mean.float(), rtol=1e-6, atol=0)
    torch.testing.assert_close(net.feature_std, std.float(), rtol=1e-5, atol=0)


# --------------------------------------------------------------------------------------------
# losses, metrics, projection
# --------------------------------------------------------------------------------------------


def test_cross_entropy_ignores_padded_positions() -> None:
    net = BiLstmNet(_cfg())
    tr = _data(8, 6, 11)
    labels = tr.targets.clone()
    labels[~vehicle_mask(tr.lengths, 6)] = 7  # out of range: must be ignored
    tr = VehicleSequences(tr.features, tr.lengths, labels)
    task = AssignmentTask(net, tr, _data(4, 6, 12), fit_normalisation=False)
    idx = torch.tensor([5, 0, 3, 7])
    out = task.train_batch(idx, {})
    with torch.no_grad():
        terms: list[float] = []
        for s in idx.tolist():
            n = int(tr.lengths[s])
            logits = net(tr.features[s:s + 1, :n], torch.tensor([n]))[0]
            for k in range(n):
                z = logits[k].double()
                terms.append(float(torch.logsumexp(z, 0) - z[int(labels[s, k])]))
    assert float(out.loss.detach()) == pytest.approx(sum(terms) / len(terms), rel=1e-5)
    with torch.no_grad():
        val = task.validate()
    assert set(val) == {"total", "accuracy"} and 0 <= val["accuracy"] <= 1


def test_validation_terms_match_explicit_loops() -> None:
    net = BiLstmNet(_cfg()).eval()
    va = _data(13, 5, 21)
    task = AssignmentTask(net, _data(6, 5, 20), va, val_batch_size=4)
    with torch.no_grad():
        got = task.validate()
        y = net(va.features, va.lengths)
    ce, hit, n = 0.0, 0, 0
    for s in range(13):
        for k in range(int(va.lengths[s])):
            z = y[s, k].double()
            lab = int(va.targets[s, k])
            ce += float(torch.logsumexp(z, 0) - z[lab])
            hit += int(int(z.argmax()) == lab)
            n += 1
    assert got["total"] == pytest.approx(ce / n, rel=1e-5)
    assert got["accuracy"] == pytest.approx(hit / n, abs=1e-12)
    per_slot = assignment_accuracy(y, va.targets, va.lengths)
    for s in range(13):
        m = int(va.lengths[s])
        want = sum(int(int(y[s, k].argmax()) == int(va.targets[s, k])) for k in range(m)) / m
        assert float(per_slot[s]) == pytest.approx(want)


def test_beam_losses_match_explicit_loops() -> None:
    power = 0.7
    net = BiLstmNet(_cfg("beam", output_scale=2.0))
    tr, va = _data(7, 4, 30, head="beam"), _data(9, 4, 31, head="beam")
    task = BeamTask(net, tr, va, power=power, val_batch_size=4)
    idx = torch.tensor([2, 6, 1])
    loss = float(task.train_batch(idx, {}).loss.detach())
    net.eval()
    with torch.no_grad():
        got = task.validate()
        y_tr = net(tr.features, tr.lengths)
        y_va = net(va.features, va.lengths)

    def mse(y: torch.Tensor, t: torch.Tensor, lengths: torch.Tensor, rows: list[int],
            project: bool) -> float:
        errs = []
        for s in rows:
            for k in range(int(lengths[s])):
                p = y[s, k].double()
                if project and float(p.square().sum()) > power:
                    p = p * math.sqrt(power) / float(p.square().sum().sqrt())
                errs.append(float((p - t[s, k].double()).square().sum()) / (2 * NT))
        return sum(errs) / len(errs)

    # dropout-free network: training and evaluation mode give the same outputs
    assert loss == pytest.approx(mse(y_tr, tr.targets, tr.lengths, idx.tolist(), False),
                                 rel=1e-5)
    rows = list(range(9))
    assert got["total"] == pytest.approx(mse(y_va, va.targets, va.lengths, rows, False), rel=1e-5)
    assert got["beam_mse"] == pytest.approx(mse(y_va, va.targets, va.lengths, rows, True),
                                            rel=1e-5)
    per = beam_mse(y_va, va.targets, va.lengths)
    assert float(per[0]) == pytest.approx(mse(y_va, va.targets, va.lengths, [0], False), rel=1e-5)


def test_project_beams_is_the_euclidean_projection_onto_the_ball() -> None:
    g = torch.Generator().manual_seed(7)
    f = torch.randn(50, 4, dtype=torch.complex128, generator=g) * torch.rand(
        50, 1, dtype=torch.float64, generator=g) * 3
    power = 2.0
    p = project_beams(f, power)
    norm_sq = p.abs().square().sum(-1)
    assert bool((norm_sq <= power * (1 + 1e-12)).all())
    inside = f.abs().square().sum(-1) <= power
    assert bool(inside.any()) and bool((~inside).any())
    assert torch.equal(p[inside], f[inside])
    torch.testing.assert_close(project_beams(p, power), p, rtol=1e-14, atol=0)  # idempotent
    # optimality: no feasible point is closer than the projection (random feasible probes)
    probes = torch.randn(200, 4, dtype=torch.complex128, generator=g)
    probes = probes / probes.abs().square().sum(-1, keepdim=True).sqrt() * math.sqrt(power) \
        * torch.rand(200, 1, dtype=torch.float64, generator=g)
    d_proj = (f - p).abs().square().sum(-1)
    d_probe = (f[:, None] - probes[None]).abs().square().sum(-1)
    assert bool((d_proj[:, None] <= d_probe + 1e-12).all())
    # the real layout [Re, Im] is projected alike
    torch.testing.assert_close(project_beams(beams_to_real(f), power), beams_to_real(p))
    torch.testing.assert_close(real_to_beams(beams_to_real(f)), f, rtol=0, atol=0)
    with pytest.raises(ValueRangeError):
        project_beams(f, -1.0)


# --------------------------------------------------------------------------------------------
# training through fit
# --------------------------------------------------------------------------------------------


def _train_cfg(**kw: object) -> TrainConfig:
    base: dict[str, object] = dict(batch_size=32, max_epochs=3, patience=10, lr=3e-3,
                                   min_delta=0.0, seed=0)
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def _run_once() -> tuple[str, list[dict[str, float]]]:
    net = BiLstmNet(_cfg())
    task = AssignmentTask(net, _data(96, 6, 40), _data(24, 6, 41), seed=5)
    res = fit(task, _train_cfg())
    hist = [{k: v for k, v in row.items() if k != "epoch_time_s"} for row in res.history]
    return weights_digest(dict(net.state_dict())), hist


def test_seeded_training_is_bit_identical() -> None:
    a, b = _run_once(), _run_once()
    assert a == b
    assert len(a[1]) == 3 and a[1][0]["val_total"] != a[1][-1]["val_total"]


def _rule_data(s: int, seed: int) -> VehicleSequences:
    """Label of a vehicle = sign of feature 5 of its *next* vehicle (the last vehicle: of its
    own); features on wildly different scales (as the raw DT features are)."""
    g = torch.Generator().manual_seed(seed)
    k = 6
    x = torch.randn(s, k, FEAT, generator=g)
    lengths = torch.randint(2, k + 1, (s,), generator=g)
    nxt = torch.minimum(torch.arange(k)[None, :] + 1, lengths[:, None] - 1)
    labels = (x[:, :, 5].gather(1, nxt) > 0).long()
    scale = torch.logspace(-9, 4, FEAT)
    return VehicleSequences(x * scale + 5 * scale, lengths, labels)


def test_learns_a_rule_that_needs_the_backward_direction() -> None:
    net = BiLstmNet(_cfg(hidden_size=16, dense_width=16))
    task = AssignmentTask(net, _rule_data(1024, 50), _rule_data(256, 51), seed=0)
    res = fit(task, _train_cfg(max_epochs=12, batch_size=32, lr=1e-2))
    assert res.history[-1]["val_accuracy"] > 0.95 or max(
        h["val_accuracy"] for h in res.history) > 0.95
    labels = predict_assignment(net, task.val.features, task.val.lengths)
    mask = vehicle_mask(task.val.lengths, 6)
    acc = float((labels[mask] == task.val.targets[mask]).double().mean())
    assert acc > 0.95
    assert bool((labels[~mask] == -1).all())


def test_beam_network_trains_and_predicts_feasible_beams() -> None:
    """Target beam = a linear map of the vehicle's own features: the MSE falls."""
    net = BiLstmNet(_cfg("beam"))
    tr, va = _data(128, 5, 60, head="beam"), _data(32, 5, 61, head="beam")
    for d in (tr, va):
        d.targets.copy_(0.5 * d.features[:, :, :2 * NT])
    task = BeamTask(net, tr, va, power=0.5)
    with torch.no_grad():
        start = task.validate()["total"]
    res = fit(task, _train_cfg(max_epochs=10, lr=1e-2))
    assert res.best_val_loss < 0.5 * start
    f = predict_beams(net, va.features, va.lengths, power=0.5)
    assert f.shape == (32, 5, NT) and f.is_complex()
    assert bool((f.abs().square().sum(-1) <= 0.5 * (1 + 1e-6)).all())
    assert bool((f[~vehicle_mask(va.lengths, 5)] == 0).all())


# --------------------------------------------------------------------------------------------
# checkpoints
# --------------------------------------------------------------------------------------------


def test_checkpoint_round_trip_is_exact(tmp_path: Path) -> None:
    net = BiLstmNet(_cfg("beam", output_scale=3.0))
    d = _data(20, 5, 70, head="beam")
    net.fit_normalisation(d.features, d.lengths)
    save_bilstm(tmp_path / "b", net, metrics={"beam_mse": 0.1})
    back = load_bilstm(tmp_path / "b", expect=net.config)
    assert back.config == net.config and not back.training
    assert weights_digest(dict(back.state_dict())) == weights_digest(dict(net.state_dict()))
    with torch.no_grad():
        assert torch.equal(back(d.features, d.lengths), net.eval()(d.features, d.lengths))


def test_checkpoint_of_another_configuration_is_refused(tmp_path: Path) -> None:
    net = BiLstmNet(BiLstmConfig(num_tx=32, num_rx=32, hidden_size=4, dense_width=4))
    save_bilstm(tmp_path / "a", net)
    with pytest.raises(CheckpointError, match="num_tx: checkpoint has 32, expected 16") as e:
        load_bilstm(tmp_path / "a", expect={"num_tx": 16, "head": "assign"})
    assert "\n" not in str(e.value)
    with pytest.raises(CheckpointError, match="head"):
        load_bilstm(tmp_path / "a", expect={"head": "beam"})
    with pytest.raises(CheckpointError, match="num_features"):
        load_bilstm(tmp_path / "a", expect=BiLstmConfig(num_tx=16, num_rx=32, hidden_size=4,
                                                         dense_width=4))
    assert load_bilstm(tmp_path / "a", expect={"num_tx": 32}).config == net.config
    save_model(tmp_path / "o", torch.nn.Linear(1, 1), kind="precoder", config={})
    with pytest.raises(CheckpointError, match="Bi-LSTM"):
        load_bilstm(tmp_path / "o")


def test_finished_training_state_loads(tmp_path: Path) -> None:
    net = BiLstmNet(_cfg())
    task = AssignmentTask(net, _data(32, 4, 80), _data(8, 4, 81))
    res = train_bilstm(task, _train_cfg(max_epochs=2), checkpoint=tmp_path / "state")
    assert res.finished
    back = load_bilstm(tmp_path / "state", expect={"num_tx": NT})
    assert weights_digest(dict(back.state_dict())) == weights_digest(dict(net.state_dict()))


# --------------------------------------------------------------------------------------------
# guards
# --------------------------------------------------------------------------------------------


def test_empty_and_bad_inputs_give_clear_errors() -> None:
    net = BiLstmNet(_cfg())
    with pytest.raises(ShapeError, match="K = 0"):
        net(torch.zeros(2, 0, FEAT), torch.tensor([0, 0]))
    with pytest.raises(ShapeError, match="S = 0"):
        net(torch.zeros(0, 3, FEAT), torch.zeros(0, dtype=torch.int64))
    with pytest.raises(ValueRangeError, match="0 vehicles"):
        net(torch.zeros(2, 3, FEAT), torch.tensor([3, 0]))
    with pytest.raises(ValueRangeError, match=r"\[1, K = 3\]"):
        net(torch.zeros(2, 3, FEAT), torch.tensor([3, 4]))
    with pytest.raises(ShapeError, match=f"{FEAT}"):
        net(torch.zeros(2, 3, FEAT + 1), torch.tensor([3, 1]))
    with pytest.raises(ShapeError, match="lengths"):
        net(torch.zeros(2, 3, FEAT), torch.tensor([3.0, 1.0]))
    with pytest.raises(ConfigError, match="head='assign'"):
        predict_beams(net, torch.zeros(1, 2, FEAT), torch.tensor([2]))
    with pytest.raises(ConfigError, match="head"):
        BeamTask(net, _data(4, 3, 0), _data(4, 3, 1))
    bad = _data(4, 3, 0)
    bad.targets[0, 0] = 2
    with pytest.raises(ValueRangeError, match="labels"):
        AssignmentTask(net, bad, _data(4, 3, 1))


@pytest.mark.parametrize("kw", [dict(head="both"), dict(hidden_size=0), dict(num_layers=1.5),
                                dict(dense_width=-1), dict(num_tx=0),
                                dict(output_scale=2.0), dict(head="beam", output_scale=0.0),
                                dict(num_features=0)])
def test_bad_configs_are_refused(kw: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        _cfg(**kw)
