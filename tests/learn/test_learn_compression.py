"""Tests of isaclearn.learn.compression (eqs. 26–27, global pruning, dead neurons, Table 3) and
of the ONNX export."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from isaclearn.core import ConfigError, complex_normal, make_generator
from isaclearn.learn import (
    EntrywisePrecoderNet,
    NetConfig,
    build_network,
    compress,
    paper_features,
    prune_global,
    quantize_model,
    quantize_tensor,
    remove_dead_neurons,
)


def test_quantize_hand_computed() -> None:
    # Q = 2: f = (1 - 0) / 4 = 0.25; s / f = [0, 0.4, 1.4, 4] -> [0, 0, 1, 4]
    s = torch.tensor([0.0, 0.1, 0.35, 1.0])
    torch.testing.assert_close(quantize_tensor(s, 2), torch.tensor([0.0, 0.0, 0.25, 1.0]))
    # Q = 3 on [-1, 1]: f = 2 / 8 = 0.25; s/f = [-4, -1.5, 0.4, 2.5, 4] -> [-4, -2, 0, 2, 4]
    # (exact binary ties, rounded half to even)
    s = torch.tensor([-1.0, -0.375, 0.1, 0.625, 1.0], dtype=torch.float64)
    torch.testing.assert_close(quantize_tensor(s, 3),
                               torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0], dtype=torch.float64))
    # constant tensor: unchanged; 2-D keeps its shape
    torch.testing.assert_close(quantize_tensor(torch.full((2, 3), 0.7), 4), torch.full((2, 3), 0.7))
    with pytest.raises(ConfigError):
        quantize_tensor(s, 0)


def test_quantize_levels_and_error_bound() -> None:
    s = torch.randn(1000, generator=torch.Generator().manual_seed(0))
    for q in (3, 5, 8):
        sq = quantize_tensor(s, q)
        f = (s.max() - s.min()) / 2**q
        assert float((sq - s).abs().max()) <= float(f) / 2 + 1e-7
        assert sq.unique().numel() <= 2**q + 1


def test_quantize_model_per_layer_ranges() -> None:
    net = nn.Sequential(nn.Linear(2, 2), nn.SiLU(), nn.Linear(2, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[0.0, 0.1], [0.35, 1.0]]))
        net[0].bias.copy_(torch.tensor([0.2, -0.2]))
        net[2].weight.copy_(torch.tensor([[-4.0, 4.0]]))
        net[2].bias.copy_(torch.tensor([0.3]))
    q = quantize_model(net, 2)
    torch.testing.assert_close(q[0].weight, torch.tensor([[0.0, 0.0], [0.25, 1.0]]))
    torch.testing.assert_close(q[0].bias, torch.tensor([0.2, -0.2]))  # f = 0.1: on the grid
    torch.testing.assert_close(q[2].weight, torch.tensor([[-4.0, 4.0]]))
    torch.testing.assert_close(q[2].bias, torch.tensor([0.3]))  # constant vector unchanged
    torch.testing.assert_close(net[0].weight, torch.tensor([[0.0, 0.1], [0.35, 1.0]]))  # copy
    q_nb = quantize_model(net, 1, include_bias=False)
    torch.testing.assert_close(q_nb[0].bias, net[0].bias)


def test_global_pruning_hand_computed() -> None:
    net = nn.Sequential(nn.Linear(2, 2), nn.SiLU(), nn.Linear(2, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[0.1, -0.5], [0.3, 0.05]]))
        net[2].weight.copy_(torch.tensor([[-0.2, 0.4]]))
    # 6 weights, J = 0.4 -> round(2.4) = 2 smallest magnitudes over both layers: 0.05 and 0.1
    p = prune_global(net, 0.4)
    torch.testing.assert_close(p[0].weight, torch.tensor([[0.0, -0.5], [0.3, 0.0]]))
    torch.testing.assert_close(p[2].weight, torch.tensor([[-0.2, 0.4]]))
    torch.testing.assert_close(p[0].bias, net[0].bias)  # biases are not pruned
    assert not any("orig" in n or "mask" in n for n, _ in p.named_parameters())
    assert not list(p.named_buffers())
    # J = 0.5 -> 3 weights: 0.05, 0.1 and 0.2 (the smallest of the second layer)
    p = prune_global(net, 0.5)
    torch.testing.assert_close(p[2].weight, torch.tensor([[0.0, 0.4]]))
    with pytest.raises(ConfigError):
        prune_global(net, 1.0)


def test_dead_neuron_removal_hand_computed() -> None:
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(3, 4), nn.SiLU(), nn.Dropout(0.1), nn.Linear(4, 3), nn.SiLU(),
                        nn.Dropout(0.1), nn.Linear(3, 2))
    with torch.no_grad():
        mlp[0].weight[1] = 0.0  # hidden-1 neuron 1: no inputs -> constant silu(b), folded
        mlp[3].weight[:, 2] = 0.0  # hidden-1 neuron 2: no outputs -> removed
        mlp[6].weight[:, 0] = 0.0  # hidden-2 neuron 0: no outputs -> removed
    mlp.eval()
    x = torch.randn(7, 3)
    small, removed = remove_dead_neurons(mlp)
    small.eval()
    assert removed == [2, 1]
    widths = [m.out_features for m in small if isinstance(m, nn.Linear)]
    assert widths == [2, 2, 2]
    torch.testing.assert_close(small(x), mlp(x))


def test_dead_neuron_removal_cascades() -> None:
    """A hidden-2 neuron fed only by removed hidden-1 neurons becomes input-dead in turn."""
    mlp = nn.Sequential(nn.Linear(2, 2), nn.SiLU(), nn.Linear(2, 2), nn.SiLU(), nn.Linear(2, 1))
    with torch.no_grad():
        mlp[0].weight.copy_(torch.tensor([[1.0, -1.0], [0.5, 2.0]]))
        mlp[2].weight.copy_(torch.tensor([[0.0, 3.0], [1.0, 1.0]]))
        mlp[4].weight.copy_(torch.tensor([[2.0, -1.0]]))
        mlp[4].bias.fill_(0.1)
        mlp[2].weight[:, 1] = 0.0  # hidden-1 neuron 1 has no outputs; hidden-2 neuron 0 then
        # has no inputs left
    x = torch.randn(5, 2)
    small, removed = remove_dead_neurons(mlp)
    assert removed == [1, 1]
    torch.testing.assert_close(small(x), mlp(x))


def test_compress_entrywise_report_and_output() -> None:
    torch.manual_seed(0)
    net = build_network(NetConfig(num_antennas=4, num_users=2, num_targets=1, hidden=(16, 16)))
    net.eval()
    n_params = sum(p.numel() for p in net.parameters())
    n_weights = 17 * 16 + 16 * 16 + 16 * 16
    small, rep = compress(net, 7, 0.1)
    assert rep.num_params_full == n_params and rep.num_weights_full == n_weights
    assert rep.complexity_paper == pytest.approx(7 * 0.9 / 32)  # Table 3: 19.68 %
    nz_w = sum(int((m.weight != 0).sum()) for m in small.mlp if isinstance(m, nn.Linear))
    nz_b = sum(int((m.bias != 0).sum()) for m in small.mlp if isinstance(m, nn.Linear))
    assert rep.num_nonzero_weights == nz_w
    assert rep.complexity_measured == pytest.approx(7 * (nz_w + nz_b) / (32 * n_params))
    assert nz_w <= round(0.9 * n_weights)
    assert rep.weight_sparsity == pytest.approx(1 - nz_w / n_weights)
    assert isinstance(small, EntrywisePrecoderNet) and list(small.config.hidden) == rep.hidden
    # the compressed network is the quantized + pruned one, neuron removal changes nothing
    ref = prune_global(quantize_model(net, 7), 0.1).eval()
    h = complex_normal((5, 2, 4), generator=make_generator(0))
    theta = torch.rand(5, 1)
    torch.testing.assert_close(small(h, theta)[1], ref(h, theta)[1], atol=1e-6, rtol=1e-5)
    # no compression: identical network, complexity 100 %
    same, rep32 = compress(net, None, 0.0)
    assert rep32.complexity_paper == 1.0 and rep32.complexity_measured == pytest.approx(
        sum(int((p != 0).sum()) for p in net.parameters()) / n_params)
    torch.testing.assert_close(same(h, theta)[1], net(h, theta)[1])


def test_compress_structured_keeps_architecture() -> None:
    torch.manual_seed(0)
    cfg = NetConfig(kind="structured", num_antennas=4, num_users=2, d_model=8, num_layers=1,
                    num_heads=2)
    net = build_network(cfg)
    small, rep = compress(net, 6, 0.2)
    assert small.config == cfg and rep.neurons_removed == [] and rep.hidden == []
    assert rep.num_nonzero_weights <= rep.num_weights_full - round(0.2 * rep.num_weights_full)


def test_onnx_export_matches_torch(tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from isaclearn.learn.export import export_onnx, onnx_latency, onnx_predict

    torch.manual_seed(0)
    net = build_network(NetConfig(num_antennas=4, num_users=2, num_targets=1, hidden=(16,)))
    small, _ = compress(net, 6, 0.2)
    path = export_onnx(small, tmp_path / "net.onnx", power=2.0)
    h = complex_normal((9, 2, 4), generator=make_generator(1))
    theta = torch.rand(9, 1)
    out = onnx_predict(path, paper_features(h, theta))
    _, w = small(h, theta, power=2.0)
    torch.testing.assert_close(torch.complex(out[:, 0], out[:, 1]), w, atol=1e-5, rtol=1e-4)
    lat = onnx_latency(path, batch_size=64, repeat=3)
    assert lat["per_instance_us"] > 0 and lat["batch_size"] == 64


def test_onnx_export_refuses_structured(tmp_path) -> None:
    from isaclearn.learn.export import export_onnx

    net = build_network(NetConfig(kind="structured", num_antennas=4, num_users=2, d_model=8,
                                  num_layers=1, num_heads=2))
    with pytest.raises(ConfigError, match="entry-wise"):
        export_onnx(net, tmp_path / "s.onnx")
