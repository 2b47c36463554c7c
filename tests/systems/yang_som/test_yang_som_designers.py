"""yang_som classical designers: hybrid constraints of every output, the MP Kalman recursion
against a hand-written Kalman filter, greedy against an explicit loop, Opt's reuse, the
orthogonal boundary, and the rollout's frames = rl.rollout's frames."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from isaclearn.core.design import Design
from isaclearn.core.errors import ConfigError
from isaclearn.metrics.ofdm import se
from isaclearn.rl.envs.yang_som import YangSomCore
from isaclearn.rl.rollout import rollout
from isaclearn.solvers.hybrid import angular_dictionary, check_hybrid, quantize_phases
from isaclearn.systems.yang_som.config import YangSomRunConfig
from isaclearn.systems.yang_som.designers import (
    GreedyDesigner,
    MpDesigner,
    OptDesigner,
    OrthogonalBound,
    SdrStage,
    classical_designers,
    rollout_designer,
)
from isaclearn.systems.yang_som.evaluation import evaluate, subframe_problem

TINY = {"num_antennas": 4, "num_rx": 4, "num_subcarriers": 2, "num_users": 2, "max_users": 2,
        "num_taps": 2, "num_paths": 2, "num_symbols": 2, "max_episode_steps": 3, "num_grid": 8,
        "dtype": torch.complex128}


def _core(batch: int = 2, **kw: object) -> YangSomCore:
    core = YangSomCore(batch, **{**TINY, **kw})
    core.reset(seed=3)
    return core


def _assert_hybrid(design: Design, bits: int, k: int, s: int) -> None:
    f_rf, p = design.extras["f_rf"], design.extras["p"]
    v = check_hybrid(f_rf, p, bits, float(k * s))
    assert float(v["modulus"].max()) <= 1e-6
    assert float(v["phase_grid"].max()) <= 1e-5
    assert float(v["off_diagonal"].max()) == 0.0  # F_BB,m = diag(p_m) by construction
    assert float(v["power"].max()) <= 1e-5
    assert p.shape[-2:] == (s, k)


@pytest.mark.parametrize("name", ["opt", "omp", "mp", "greedy"])
def test_every_designer_output_is_a_feasible_hybrid(name: str) -> None:
    core = _core()
    designer = classical_designers([name], num_grid=8, opt_fractions=(0.5,), opt_stride=2)[name]
    for _ in range(3):  # every subframe of the frame
        problem = subframe_problem(core)
        design = designer.design(problem)
        _assert_hybrid(design, core.config.bits, 2, 2)
        # the transmitted precoder carries P_t in total
        total = float(design.w.abs().square().sum(dim=(1, 2, 3))[0])
        assert total == pytest.approx(core.config.power, rel=1e-9)
        core.step_precoder(design.extras["f_rf"], design.extras["p"])


def test_ideal_is_fully_digital_with_the_per_subcarrier_power() -> None:
    core = _core()
    designer = classical_designers(["ideal"], opt_fractions=(0.5,))["ideal"]
    design = designer.design(subframe_problem(core))
    per_sub = design.w.abs().square().sum(dim=(-2, -1))  # [B, S]
    assert torch.allclose(per_sub, torch.full_like(per_sub, core.config.power / 2), rtol=1e-6)
    _assert_hybrid(Design(w=design.w, extras={"f_rf": design.extras["step_f_rf"],
                                             "p": design.extras["step_p"]}), 3, 2, 2)


def _kalman_reference(z: np.ndarray, r: float, q: float, p0: float) -> list[float]:
    """Closed-form Kalman recursion of MpDesigner: z[n] observes θ(max(n-1, 0)); returns the
    one-step predictions used at n = 0..len(z)-1."""
    f = np.array([[1.0, 1.0], [0.0, 1.0]])
    h = np.array([[1.0, 0.0]])
    qm = np.diag([0.0, q])
    x = np.array([z[0], 0.0])
    p = np.diag([r, p0])
    out = [x[0]]
    for n in range(1, len(z)):
        if n >= 2:  # predict from time n-2 to n-1
            x, p = f @ x, f @ p @ f.T + qm
        s = (h @ p @ h.T)[0, 0] + r
        gain = (p @ h.T)[:, 0] / s
        x = x + gain * (z[n] - x[0])
        p = (np.eye(2) - np.outer(gain, h[0])) @ p
        out.append((f @ x)[0])
    return out


def test_mp_prediction_is_the_kalman_recursion() -> None:
    core = _core(batch=1, max_episode_steps=6)
    mp = MpDesigner(angle_std_deg=1.0, rate_std_deg=0.05, rate0_std_deg=0.5)
    preds, meas = [], []
    for _ in range(6):
        problem = subframe_problem(core)
        meas.append(float(problem.est_user_theta_rad[0, 0]))
        preds.append(float(mp.predict_angles(problem)[0, 0]))
        core.step_precoder(problem.f_rf, problem.p)
    d = math.pi / 180
    ref = _kalman_reference(np.array(meas), d**2, (0.05 * d) ** 2, (0.5 * d) ** 2)
    assert np.allclose(preds, ref, atol=1e-12)


def test_mp_beams_point_at_the_prediction() -> None:
    core = _core(batch=1)
    problem = subframe_problem(core)
    design = MpDesigner().design(problem)
    theta = problem.est_user_theta_rad[0]  # subframe 0: prediction = preamble estimate
    for u in range(2):
        a = torch.exp(-1j * math.pi * torch.arange(4) * torch.sin(theta[u]))
        want = quantize_phases(a.to(torch.complex128)[None, :, None], 3)[0, :, 0]
        assert torch.allclose(design.extras["f_rf"][0, :, u], want)
    assert torch.equal(design.extras["p"], torch.ones_like(design.extras["p"]))


def test_greedy_matches_an_explicit_loop() -> None:
    core = _core(batch=1)
    problem = subframe_problem(core)
    design = GreedyDesigner(num_grid=8).design(problem)
    h = problem.h[0]
    m, k, s = 4, 2, 2
    cand = quantize_phases(2.0 * angular_dictionary(4, 8, dtype=torch.complex128), 3)
    scale = math.sqrt(problem.power / (m * k * s))
    picked: list[int] = []
    for u in range(k):
        best, best_rate = -1, -math.inf
        for g in range(8):
            cols = [cand[:, j] for j in picked] + [cand[:, g]]
            f_rf = torch.zeros(m, k, dtype=torch.complex128)
            for j, c in enumerate(cols):
                f_rf[:, j] = c * math.sqrt(k / (u + 1))
            f = (f_rf * scale)[None].expand(s, m, k)
            rate = float(se(h, f, problem.noise_var))
            if rate > best_rate:
                best, best_rate = g, rate
        picked.append(best)
    assert design.info["codewords"][0].tolist() == picked


def test_opt_reuses_the_sdr_between_solved_subframes() -> None:
    core = _core()
    sdr = SdrStage(stride=2, fractions=(0.5,))
    opt = OptDesigner(sdr, n_iter=5)
    designs = []
    for _ in range(3):
        problem = subframe_problem(core)
        designs.append(opt.design(problem))
        core.step_precoder(designs[-1].extras["f_rf"], designs[-1].extras["p"])
    assert sdr.solves == 2  # subframes 0 and 2
    assert torch.equal(designs[0].extras["f_rf"], designs[1].extras["f_rf"])
    assert "every 2 subframes" in designs[0].info["note"]


def test_opt_joint_ici_meets_every_sinr_with_the_frame_ici(monkeypatch) -> None:
    """``opt_ici="joint"`` reaches Stage I with the frame's full ICI channel, and the selected
    Stage I precoder meets its SINR target with ICI (metrics.ofdm.sinr_ici, the scoring's
    units), frame by frame."""
    from isaclearn.metrics.ofdm import sinr_ici
    from isaclearn.systems.yang_som import designers as mod

    calls: list[tuple[dict, object]] = []
    real = mod.ofdm_isac_sdr

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        res = real(*args, **kwargs)
        calls.append((kwargs, res))
        return res

    monkeypatch.setattr(mod, "ofdm_isac_sdr", spy)
    core = _core()
    cfg = YangSomRunConfig(num_antennas=4, num_rx=4, num_subcarriers=2, num_users=2,
                           max_users=2, opt_ici="joint", opt_fractions=(0.1, 0.5))
    designer = classical_designers(["opt"], **{**cfg.designer_options(), "num_grid": 8})["opt"]
    assert designer.sdr.ici == "joint"
    problem = subframe_problem(core)
    design = designer.design(problem)
    _assert_hybrid(design, core.config.bits, 2, 2)
    assert "joint SDP" in design.info["note"]
    assert len(calls) == 2  # one per frame (per-frame τ grid)
    for i, (kwargs, res) in enumerate(calls):
        assert kwargs["ici"] == "joint"
        assert torch.equal(kwargs["h_ici"], problem.h[i:i + 1])
        assert bool(res.feasible[0]) and float(res.tau[0]) > 0  # type: ignore[attr-defined]
        got = sinr_ici(problem.h[i:i + 1], res.w.to(problem.h.dtype),  # type: ignore[attr-defined]
                       problem.noise_var)
        assert float(got.min()) >= float(res.tau[0]) * (1 - 1e-4)  # type: ignore[attr-defined]


def test_opt_ici_option_errors() -> None:
    with pytest.raises(ConfigError, match="opt_ici must be one of"):
        YangSomRunConfig(opt_ici="exact")
    with pytest.raises(ConfigError, match="toy sizes"):
        YangSomRunConfig(opt_ici="joint")  # the paper sizes
    with pytest.raises(ConfigError, match="ici must be one of"):
        SdrStage(ici="exact")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="subcarrier_stride"):
        SdrStage(ici="joint", subcarrier_stride=2)
    with pytest.raises(ConfigError, match="ici_rounds"):
        SdrStage(ici="joint", ici_rounds=2)


def test_orthogonal_boundary_is_time_sharing() -> None:
    core = _core(weight=0.3)
    problem = subframe_problem(core)
    design = OrthogonalBound().design(problem)
    assert design.w.shape == (2, 2, 4, 2)  # [B, S, M, K] zeros: the platform's shape checks
    metrics = evaluate(problem, design)
    assert problem.rate_star is not None and problem.fisher_star is not None
    assert torch.allclose(metrics["se"], 0.3 * problem.rate_star)
    assert torch.allclose(metrics["fisher"], 0.7 * problem.fisher_star)
    want = 0.3 * 0.3 + 0.7 * 0.7
    assert torch.allclose(metrics["reward"], torch.full_like(metrics["reward"], want))


def test_rollout_designer_sees_the_frames_of_rl_rollout() -> None:
    seen_designer: list[torch.Tensor] = []
    seen_policy: list[torch.Tensor] = []

    class Hold:
        name = "hold"

        def design(self, problem):  # type: ignore[no-untyped-def]
            seen_designer.append(problem.h_est.clone())
            return MpDesigner().design(problem)

    core = YangSomCore(2, **TINY)
    rows = rollout_designer(core, Hold(), 3, seed=5)
    assert [r["episode"] for r in rows] == [0, 1, 2] and all(r["steps"] == 3 for r in rows)

    def policy(obs):  # type: ignore[no-untyped-def]
        seen_policy.append(obs["S_H"].clone())
        return torch.zeros(obs["S_H"].shape[0], core.config.action_dim, dtype=torch.float64)

    rollout(YangSomCore(2, **TINY), policy, 3, seed=5)
    dictionary = angular_dictionary(4, 8, dtype=torch.complex128)
    # round 1 (frames 0, 1) and round 2 (frames 2, 3 of which 1 is scored)
    for d_idx, p_idx in ((0, 0), (3, 3)):
        image = (seen_designer[d_idx] @ dictionary).abs()
        assert torch.allclose(seen_policy[p_idx][:, :, :2], image, atol=1e-12)


def test_frame_rows_carry_the_frame_means() -> None:
    core = YangSomCore(2, **TINY)
    rows = rollout_designer(core, MpDesigner(), 2, seed=0)
    # recompute frame 0 by hand
    core2 = YangSomCore(2, **TINY)
    core2.reset(seed=0)
    mp = MpDesigner()
    crlb, ret = [], 0.0
    for _ in range(3):
        problem = subframe_problem(core2)
        design = mp.design(problem)
        m = evaluate(problem, design)
        crlb.append(float(m["crlb"][0]))
        ret += float(m["reward"][0])
        core2.step_precoder(design.extras["f_rf"], design.extras["p"])
    assert rows[0]["reward"] == pytest.approx(ret, rel=1e-12)
    assert rows[0]["crlb_db"] == pytest.approx(10 * math.log10(sum(crlb) / 3), rel=1e-12)


def test_convergence_references_take_the_opt_options() -> None:
    """``yang_som.convergence`` builds its Opt line from its own ``opt_*`` fields (the same
    options as the sweeps'), with the same checks."""
    from isaclearn.systems.yang_som.convergence import ConvergenceConfig
    from isaclearn.systems.yang_som.experiments import _convergence_references

    cfg = ConvergenceConfig(num_antennas=4, num_rx=4, num_subcarriers=2, num_users=2,
                            max_users=2, opt_ici="joint", opt_fractions=(0.1, 0.5),
                            opt_stride=3, opt_iter=7, classical=("opt",))
    opt = _convergence_references(cfg)["opt"]
    assert (opt.sdr.ici, opt.sdr.stride, opt.n_iter) == ("joint", 3, 7)
    assert tuple(opt.sdr.fractions) == (0.1, 0.5)
    default = _convergence_references(ConvergenceConfig(classical=("opt",)))["opt"]
    assert (default.sdr.ici, default.sdr.ici_rounds, default.sdr.subcarrier_stride) == (
        "iterate", 1, 1)
    with pytest.raises(ConfigError, match="opt_ici must be one of"):
        ConvergenceConfig(opt_ici="exact")
    with pytest.raises(ConfigError, match="toy sizes"):
        ConvergenceConfig(opt_ici="joint", num_antennas=32)
    with pytest.raises(ConfigError, match="opt_fractions"):
        ConvergenceConfig(opt_fractions=(0.1, -0.2))
