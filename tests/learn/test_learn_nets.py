"""Tests of isaclearn.learn.precoder_nets and the designer wrapper."""

from __future__ import annotations

import math

import pytest
import torch

from isaclearn.arrays import ula
from isaclearn.core import ConfigError, ShapeError, complex_normal, fro_norm_sq, make_generator
from isaclearn.learn import (
    EntrywisePrecoderNet,
    LearnedPrecoder,
    NetConfig,
    StructuredPrecoderNet,
    build_network,
    encoder_inference,
    load_precoder,
    paper_features,
    save_precoder,
    structured_precoder,
)
from isaclearn.metrics import sinr
from isaclearn.systems.temiz_unsup import make_scenario

C128 = torch.complex128



def _h(b: int, k: int, m: int, seed: int = 0, dtype: torch.dtype = torch.complex64) -> torch.Tensor:
    return complex_normal((b, k, m), generator=make_generator(seed), dtype=dtype)


def test_paper_features_layout() -> None:
    h = torch.tensor([[[1 + 2j, 3 - 1j], [0.5j, -2.0]]], dtype=torch.complex64)  # K=2, M=2
    theta = torch.tensor([[math.pi / 4]])
    u = paper_features(h, theta, torch.tensor([0.3]))
    want = [1, 3, 0, -2, 2, -1, 0.5, 0, 0.5, 0.3]  # Re row-major, Im row-major, θ/(π/2), ρ
    torch.testing.assert_close(u[0], torch.tensor(want, dtype=torch.float32))


@pytest.mark.parametrize("kind", ["entrywise", "structured"])
def test_output_shapes_and_power(kind: str) -> None:
    torch.manual_seed(0)
    cfg = NetConfig(kind=kind, num_antennas=6, num_users=3, num_targets=2, hidden=(16, 16),
                    d_model=16, num_layers=1, num_heads=2, rho_conditioned=True)
    net = build_network(cfg).eval()
    h = _h(5, 3, 6)
    theta = torch.rand(5, 2)
    w_raw, w = net(h, theta, power=2.5, noise_var=0.1, rho=torch.linspace(0, 1, 5))
    assert w.shape == w_raw.shape == (5, 6, 3)
    assert w.dtype == torch.complex64
    torch.testing.assert_close(fro_norm_sq(w), torch.full((5,), 2.5))  # eq. (21)
    # eq. (21) is a positive rescaling of the raw output
    ratio = w / w_raw
    torch.testing.assert_close(ratio.imag, torch.zeros_like(ratio.imag), atol=1e-5, rtol=0)
    assert bool((ratio.real > 0).all())


def test_entrywise_paper_architecture() -> None:
    net = EntrywisePrecoderNet(NetConfig())  # M = K = 10, T = 2, 4 x 128 SiLU, 10 % dropout
    linears = [m for m in net.mlp if isinstance(m, torch.nn.Linear)]
    assert [(l.in_features, l.out_features) for l in linears] == [
        (202, 128), (128, 128), (128, 128), (128, 128), (128, 200)
    ]
    assert sum(isinstance(m, torch.nn.SiLU) for m in net.mlp) == 4
    assert all(m.p == 0.1 for m in net.mlp if isinstance(m, torch.nn.Dropout))


def test_input_checks() -> None:
    net = build_network(NetConfig(num_antennas=4, num_users=2, hidden=(8,)))
    with pytest.raises(ShapeError, match="h must"):
        net(_h(2, 3, 4), torch.zeros(2, 2))
    with pytest.raises(ShapeError, match="theta"):
        net(_h(2, 2, 4), torch.zeros(2, 3))
    cond = build_network(NetConfig(num_antennas=4, num_users=2, hidden=(8,), rho_conditioned=True))
    with pytest.raises(ConfigError, match="rho"):
        cond(_h(2, 2, 4), torch.zeros(2, 2))
    with pytest.raises(ConfigError):
        NetConfig(kind="other")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        NetConfig(dropout=1.0)


def test_structured_form_communication_part_is_rzf() -> None:
    """c = 0, λ = p = P/K: every column is the normalized regularized-ZF column with power
    P/K (closed form (H^H H + Kσ²/P I)^{-1} h_k^H)."""
    b, k, m, p_t, s2 = 3, 3, 5, 2.0, 0.2
    h = _h(b, k, m, 1, C128)
    lam = torch.full((b, k), p_t / k, dtype=torch.float64)
    c = torch.zeros(b, k, 2, dtype=C128)
    w = structured_precoder(h, torch.zeros(b, 2, dtype=torch.float64), lam, lam, c,
                            noise_var=s2)
    hh = h.mH
    rzf = torch.linalg.solve(hh @ h + (k * s2 / p_t) * torch.eye(m, dtype=C128), hh)
    rzf = rzf / rzf.norm(dim=-2, keepdim=True) * math.sqrt(p_t / k)
    torch.testing.assert_close(w, rzf)
    torch.testing.assert_close(fro_norm_sq(w), torch.full((b,), p_t, dtype=torch.float64))


def test_structured_form_sensing_term_written_out() -> None:
    """Column k ∝ (σ² I + H^H Λ H)^{-1} (h_k^H + Σ_t c_kt a_t / √M), norm √p_k; with λ = 0 and
    dominant c the columns lie in the span of the steering vectors."""
    b, k, m, s2 = 2, 3, 6, 0.1
    h = _h(b, k, m, 2, C128)
    theta = torch.tensor([[-0.3, 0.5], [0.1, 1.0]], dtype=torch.float64)
    lam = torch.rand(b, k, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    p = torch.tensor([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]], dtype=torch.float64)
    c = complex_normal((b, k, 2), generator=make_generator(3), dtype=C128)
    w = structured_precoder(h, theta, lam, p, c, noise_var=s2)
    a = ula(m, theta).mT / math.sqrt(m)  # [B, M, T]
    for i in range(b):
        g = s2 * torch.eye(m, dtype=C128) + sum(lam[i, j] * h[i, j].conj()[:, None]
                                                 * h[i, j][None, :] for j in range(k))
        for j in range(k):
            u = torch.linalg.solve(g, h[i, j].conj() + a[i] @ c[i, j])
            torch.testing.assert_close(w[i, :, j], u / u.norm() * math.sqrt(p[i, j]))
    big = structured_precoder(h, theta, torch.zeros(b, k, dtype=torch.float64), p, 1e6 * c,
                              noise_var=s2)
    proj = a @ torch.linalg.pinv(a)
    torch.testing.assert_close(proj @ big, big, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("p_off", [0.0, 1e-44])  # exact zero and a float32 denormal
def test_structured_form_gradient_finite_for_a_switched_off_user(p_off: float) -> None:
    """A softmax power can underflow for a user the network switches off; the gradient of the
    form must stay finite there (sqrt'(0) = inf once gave NaN weights in training)."""
    h = _h(2, 3, 4, 5)
    theta = torch.tensor([[-0.2, 0.4], [0.3, -0.6]])
    lam = torch.full((2, 3), 0.3)
    logits = torch.tensor([[0.0, 0.1, -0.2], [0.2, 0.0, 0.1]], requires_grad=True)
    p = torch.softmax(logits, -1) * torch.tensor([[1.0, 1.0, p_off], [1.0, 1.0, 1.0]])
    c = complex_normal((2, 3, 2), generator=make_generator(1))
    w = structured_precoder(h, theta, lam, p, c, noise_var=0.1)
    assert float(w.detach()[0, :, 2].abs().max()) < 1e-18  # the user stays off
    rate = torch.log2(1 + sinr(h, w, 0.1)).sum()
    rate.backward()
    assert logits.grad is not None and bool(torch.isfinite(logits.grad).all())


def test_structured_net_starts_at_rzf() -> None:
    """Zero-initialized head: λ = p = P/K and c = 0, i.e. regularized ZF with equal power."""
    torch.manual_seed(0)
    cfg = NetConfig(kind="structured", num_antennas=5, num_users=3, d_model=16, num_layers=1,
                    num_heads=2)
    net = StructuredPrecoderNet(cfg).eval()
    h = _h(4, 3, 5)
    lam, p, c = net.parameters_of_form(h, torch.zeros(4, 2), power=1.0, noise_var=0.1, rho=None)
    torch.testing.assert_close(lam, torch.full((4, 3), 1 / 3))
    torch.testing.assert_close(p, torch.full((4, 3), 1 / 3))
    torch.testing.assert_close(c, torch.zeros(4, 3, 2, dtype=torch.complex64))
    _, w = net(h, torch.zeros(4, 2), noise_var=0.1)
    hh = h.mH
    rzf = torch.linalg.solve(hh @ h + 0.3 * torch.eye(5, dtype=h.dtype), hh)
    rzf = rzf / rzf.norm(dim=-2, keepdim=True) / math.sqrt(3)
    torch.testing.assert_close(w, rzf, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(("heads", "layers", "d_model"), [(1, 1, 8), (2, 2, 16), (4, 3, 32)])
def test_encoder_inference_matches_the_module(heads: int, layers: int, d_model: int) -> None:
    """The written-out eval-mode encoder equals PyTorch's module on the same weights."""
    torch.manual_seed(heads)
    cfg = NetConfig(kind="structured", num_antennas=6, num_users=5, d_model=d_model,
                    num_layers=layers, num_heads=heads)
    net = StructuredPrecoderNet(cfg).eval()
    x = torch.randn(7, 5, d_model) * 3
    with torch.no_grad():
        torch.testing.assert_close(encoder_inference(net.encoder, x), net.encoder(x),
                                   atol=1e-5, rtol=1e-5)
        # the network in eval mode uses it; its result equals the module path in train mode
        # without dropout
        net.head.weight.normal_(0, 0.3)
        h, theta = _h(7, 5, 6, 3), torch.rand(7, 2)
        lam, p, c = net.parameters_of_form(h, theta, power=1.0, noise_var=0.1, rho=None)
        for mod in net.modules():
            if isinstance(mod, torch.nn.Dropout):
                mod.p = 0.0
            if isinstance(mod, torch.nn.MultiheadAttention):
                mod.dropout = 0.0
        net.train()
        lam_t, p_t, c_t = net.parameters_of_form(h, theta, power=1.0, noise_var=0.1, rho=None)
    torch.testing.assert_close((lam, p, c), (lam_t, p_t, c_t), atol=1e-5, rtol=1e-4)


def test_structured_net_is_user_permutation_equivariant() -> None:
    torch.manual_seed(1)
    cfg = NetConfig(kind="structured", num_antennas=6, num_users=4, d_model=16, num_layers=2,
                    num_heads=2)
    net = StructuredPrecoderNet(cfg).eval()
    with torch.no_grad():  # give the head non-zero weights
        net.head.weight.normal_(0, 0.3)
    h = _h(3, 4, 6, 5)
    theta = torch.rand(3, 2)
    perm = torch.tensor([2, 0, 3, 1])
    with torch.no_grad():
        _, w = net(h, theta, noise_var=0.05)
        _, wp = net(h[:, perm], theta, noise_var=0.05)
    torch.testing.assert_close(wp, w[:, :, perm], atol=2e-5, rtol=1e-4)


def test_structured_form_serves_every_user() -> None:
    """With c = 0, equal powers and high SNR, every user of a well-conditioned channel gets an
    SINR above 0 dB (regularized ZF)."""
    h = _h(2, 3, 6, 7, C128)
    lam = torch.full((2, 3), 1 / 3, dtype=torch.float64)
    w = structured_precoder(h, torch.zeros(2, 1, dtype=torch.float64), lam, lam,
                            torch.zeros(2, 3, 1, dtype=C128), noise_var=0.01)
    g = sinr(h, w, 0.01)
    assert bool(torch.isfinite(g).all()) and bool((g > 1.0).all())


def test_designer_and_precoder_checkpoint_round_trip(tmp_path) -> None:
    torch.manual_seed(2)
    cfg = NetConfig(num_antennas=10, num_users=10, hidden=(32, 32), rho_conditioned=True)
    designer = LearnedPrecoder(build_network(cfg), rho=0.4, name="dnn_rho")
    problem = make_scenario(10, 10).sample(6, generator=make_generator(4))
    d1 = designer.design(problem)
    assert d1.w.shape == (6, 10, 10)
    torch.testing.assert_close(fro_norm_sq(d1.w), torch.full((6,), problem.power))
    save_precoder(tmp_path / "net", designer, metrics={"sum_rate": 1.0})
    loaded = load_precoder(tmp_path / "net")
    assert loaded.rho == 0.4 and loaded.name == "dnn_rho"
    for (k1, v1), (k2, v2) in zip(designer.net.state_dict().items(),
                                  loaded.net.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)  # bit-exact
    assert torch.equal(loaded.design(problem).w, d1.w)
    # complex128 problems are designed in the network's precision and returned as complex128
    p128 = make_scenario(10, 10).sample(3, generator=make_generator(4), dtype=C128)
    assert designer.design(p128).w.dtype == C128
    with pytest.raises(ConfigError):
        LearnedPrecoder(build_network(cfg), rho=None)


# ------------------------------------------------------------------ fast structured inference


def _straightforward(net: StructuredPrecoderNet, h: torch.Tensor, theta: torch.Tensor, *,
                     power: float, noise_var: float, rho: float | None) -> torch.Tensor:
    """The precoder computed the plain way: token features, PyTorch's own encoder module (train
    mode without dropout), the head, then the precoder form by LU (``structured_precoder``)."""
    import copy

    ref = copy.deepcopy(net)
    for mod in ref.modules():
        if isinstance(mod, torch.nn.Dropout):
            mod.p = 0.0
        if isinstance(mod, torch.nn.MultiheadAttention):
            mod.dropout = 0.0
    ref.train()
    with torch.no_grad():
        r = None if rho is None else torch.full((h.shape[0],), rho, dtype=h.real.dtype)
        theta_b = theta.expand(h.shape[0], -1) if theta.dim() == 1 else theta
        lam, p, c = ref.parameters_of_form(h, theta_b, power=power, noise_var=noise_var, rho=r)
        w = structured_precoder(h, theta_b, lam, p, c, noise_var=noise_var)
    return w


def _random_head(net: StructuredPrecoderNet, std: float = 0.3) -> None:
    with torch.no_grad():
        net.head.weight.normal_(0, std)
        net.head.bias.normal_(0, std)


@pytest.mark.parametrize(("rho_conditioned", "shared_theta", "chunk", "heads", "layers"), [
    (False, True, 512, 4, 2), (False, False, 7, 4, 2), (True, True, 5, 2, 1),
    (True, False, 64, 1, 3),
])
def test_structured_inference_equals_the_straightforward_computation(
        rho_conditioned: bool, shared_theta: bool, chunk: int, heads: int, layers: int) -> None:
    """Equal in complex128 to 1e-10 (the same mathematics); in complex64 within the rounding
    that the conditioning of the 10 x 10 solves allows."""
    import copy

    from isaclearn.learn import structured_inference

    torch.manual_seed(3)
    cfg = NetConfig(kind="structured", num_antennas=8, num_users=6, num_targets=2,
                    d_model=16, num_layers=layers, num_heads=heads,
                    rho_conditioned=rho_conditioned)
    net = StructuredPrecoderNet(cfg).eval()
    _random_head(net)
    problem = make_scenario(8, 6, target_angles_deg=(-10.0, 25.0) if shared_theta else None
                            ).sample(37, generator=make_generator(5), dtype=C128)
    rho = 0.4 if rho_conditioned else None
    kw = {"power": problem.power, "noise_var": problem.noise_var, "rho": rho}
    net64 = copy.deepcopy(net).double()
    w = structured_inference(net64, problem.h, problem.theta, chunk_size=chunk, **kw)
    want = _straightforward(net64, problem.h, problem.theta, **kw)
    assert w.shape == (37, 8, 6) and w.dtype == C128 and not w.requires_grad
    torch.testing.assert_close(w, want, atol=1e-10, rtol=1e-8)
    torch.testing.assert_close(fro_norm_sq(w), torch.full((37,), problem.power,
                                                          dtype=torch.float64))
    h32, theta32 = problem.h.to(torch.complex64), problem.theta.float()
    w32 = structured_inference(net, h32, theta32, chunk_size=chunk, **kw)
    with torch.no_grad():
        module32 = net(h32, theta32, **kw)[1]
    assert w32.dtype == torch.complex64
    # complex64: no further from the exact (complex128) result than the module's own output
    err = float((w32 - want).abs().max())
    assert err <= 2 * float((module32 - want).abs().max()) + 1e-6
    torch.testing.assert_close(w32, module32, atol=3e-4, rtol=0)
    w32[0] = 0  # an ordinary tensor (not an inference tensor): callers may modify it


def test_structured_inference_in_double_precision_and_theta_forms() -> None:
    from isaclearn.learn import structured_inference

    torch.manual_seed(4)
    cfg = NetConfig(kind="structured", num_antennas=5, num_users=4, d_model=8, num_layers=1,
                    num_heads=2)
    net = StructuredPrecoderNet(cfg).double().eval()
    _random_head(net, 0.5)
    h = _h(9, 4, 5, 11, C128)
    theta = torch.tensor([-0.3, 0.7], dtype=torch.float64)
    w1 = structured_inference(net, h, theta, power=2.0, noise_var=0.05, chunk_size=4)
    w2 = structured_inference(net, h, theta.expand(9, 2).clone(), power=2.0, noise_var=0.05)
    want = _straightforward(net, h, theta, power=2.0, noise_var=0.05, rho=None)
    assert w1.dtype == C128
    torch.testing.assert_close(w1, want, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(w2, want, atol=1e-12, rtol=1e-10)


def test_structured_inference_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large attention weights (scores not bounded: the row maximum is subtracted), a failed
    Cholesky factorization (LU instead) and an encoder of another kind (the module's forward)
    all give the same precoder."""
    import isaclearn.learn.fast_inference as fi
    from isaclearn.learn import structured_inference

    torch.manual_seed(6)
    cfg = NetConfig(kind="structured", num_antennas=6, num_users=5, d_model=16, num_layers=2,
                    num_heads=4)
    net = StructuredPrecoderNet(cfg).eval()
    _random_head(net)
    with torch.no_grad():
        for layer in net.encoder.layers:
            layer.self_attn.in_proj_weight[:32] *= 6.0  # queries and keys: scores up to ~100s
    layers = fi._layers(net.encoder)
    assert layers is not None and all(lay.shift for lay in layers)
    h, theta = _h(11, 5, 6, 8), torch.rand(11, 2)
    want = _straightforward(net, h, theta, power=1.0, noise_var=0.1, rho=None)
    w = structured_inference(net, h, theta, power=1.0, noise_var=0.1)
    assert bool(torch.isfinite(w).all())
    torch.testing.assert_close(w, want, atol=5e-5, rtol=1e-4)

    def failing(g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return g, torch.ones(g.shape[:-2], dtype=torch.int32)

    monkeypatch.setattr(torch.linalg, "cholesky_ex", failing)
    torch.testing.assert_close(structured_inference(net, h, theta, power=1.0, noise_var=0.1),
                               want, atol=5e-5, rtol=1e-4)
    monkeypatch.undo()

    net.encoder.norm = torch.nn.LayerNorm(16)  # not what StructuredPrecoderNet builds
    assert fi._layers(net.encoder) is None
    with torch.no_grad():
        torch.testing.assert_close(structured_inference(net, h, theta, power=1.0,
                                                        noise_var=0.1),
                                   net(h, theta, power=1.0, noise_var=0.1)[1])
    assert structured_inference(net, h[:0], theta[:0]).shape == (0, 6, 5)
    with pytest.raises(ConfigError, match="chunk_size"):
        structured_inference(net, h, theta, chunk_size=0)
    with pytest.raises(ShapeError):
        structured_inference(net, h[:, :4], theta)


def test_structured_inference_other_activation_and_many_heads() -> None:
    """An activation other than SiLU (written back into the hidden buffer) and more heads x
    users than feed-forward width (the scores buffer is then the larger one), in complex128."""
    from torch.nn import functional as F

    from isaclearn.learn import structured_inference

    torch.manual_seed(8)
    cfg = NetConfig(kind="structured", num_antennas=6, num_users=9, d_model=8, num_layers=2,
                    num_heads=4)  # H K = 36 > 2 d_model = 16
    net = StructuredPrecoderNet(cfg).double().eval()
    _random_head(net, 0.5)
    for layer in net.encoder.layers:
        layer.activation = F.gelu
    h, theta = _h(13, 9, 6, 12, C128), torch.rand(13, 2, dtype=torch.float64)
    want = _straightforward(net, h, theta, power=1.5, noise_var=0.05, rho=None)
    for chunk in (4, 512):
        torch.testing.assert_close(structured_inference(net, h, theta, power=1.5, noise_var=0.05,
                                                        chunk_size=chunk),
                                   want, atol=1e-12, rtol=1e-10)


def test_structured_inference_follows_weight_changes() -> None:
    """The arranged weights are cached per network; any change of a parameter (in place, by
    load_state_dict, a replaced module) is seen by the next call."""
    from isaclearn.learn import structured_inference

    torch.manual_seed(9)
    cfg = NetConfig(kind="structured", num_antennas=5, num_users=4, d_model=8, num_layers=1,
                    num_heads=2)
    net = StructuredPrecoderNet(cfg).double().eval()
    _random_head(net, 0.5)
    h, theta = _h(6, 4, 5, 13, C128), torch.rand(6, 2, dtype=torch.float64)
    kw = {"power": 1.0, "noise_var": 0.1}

    def check() -> None:
        torch.testing.assert_close(structured_inference(net, h, theta, **kw),
                                   _straightforward(net, h, theta, rho=None, **kw),
                                   atol=1e-12, rtol=1e-10)

    check()
    with torch.no_grad():
        net.encoder.layers[0].linear1.weight.mul_(1.7)
        net.head.bias.add_(0.3)
    check()
    other = StructuredPrecoderNet(cfg).double()
    _random_head(other, 0.5)
    net.load_state_dict(other.state_dict())
    check()
    net.encoder.layers[0].norm1 = torch.nn.LayerNorm(8, dtype=torch.float64)
    with torch.no_grad():
        net.encoder.layers[0].norm1.weight.uniform_(0.5, 2.0)
    check()


def test_learned_precoder_design_uses_the_fast_path() -> None:
    from isaclearn.learn import structured_inference

    torch.manual_seed(7)
    cfg = NetConfig(kind="structured", num_antennas=10, num_users=10, d_model=16,
                    num_layers=1, num_heads=2)
    net = StructuredPrecoderNet(cfg)
    _random_head(net)
    problem = make_scenario(10, 10).sample(5, generator=make_generator(9))
    w = LearnedPrecoder(net, rho=1.0).design(problem).w
    assert not net.training
    assert torch.equal(w, structured_inference(net, problem.h, problem.theta,
                                               power=problem.power,
                                               noise_var=problem.noise_var))
    with torch.no_grad():
        torch.testing.assert_close(w, net(problem.h, problem.theta, power=problem.power,
                                          noise_var=problem.noise_var)[1], atol=2e-5, rtol=1e-4)
