"""ding_dt system layer: the digital-twin loop against a hand-stepped loop, scoring against an
explicit loop over (10), the designers through the system (Alg. 3 vs the exhaustive oracle),
the Bi-LSTM designer's guards, the registry and the platform contract (list / run / resume /
bench through the command line), and one-line errors for bad configs."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from isaclearn.channels.highway import HighwayConfig, Traffic
from isaclearn.cli import main
from isaclearn.core.design import Design
from isaclearn.core.errors import CheckpointError, ConfigError
from isaclearn.core.random import make_generator
from isaclearn.learn.bilstm import BiLstmConfig, BiLstmNet, save_bilstm
from isaclearn.systems.base import MemoryContext, experiments, get_system
from isaclearn.systems.ding_dt import evaluate, make_scenario, make_settings, run_twin
from isaclearn.systems.ding_dt.designers import (
    LstmDesigner,
    load_lstm_designer,
    make_designer,
)
from isaclearn.systems.ding_dt.evaluation import TwinProblem

C = 299_792_458.0

# --------------------------------------------------------------------------------- reference


def _steer(n: int, phi: float) -> np.ndarray:
    """eqs. (4)/(5): N^-1/2 exp(-j pi m phi), and its derivative in phi."""
    m = np.arange(n)
    return np.exp(-1j * np.pi * m * phi) / np.sqrt(n)


def _dsteer(n: int, phi: float) -> np.ndarray:
    m = np.arange(n)
    return -1j * np.pi * m * _steer(n, phi)


class Ref:
    """A hand-written, one-vehicle-at-a-time version of Alg. 1 (numpy, float64)."""

    def __init__(self, hw: HighwayConfig) -> None:
        self.hw = hw
        self.rsu = np.array(hw.rsu_positions_m)
        self.side = np.array([np.sign(hw.lane_y_m[0] - y) for _, y in hw.rsu_positions_m])
        self.e = np.diag([hw.process_std_phi, hw.process_std_d_m, hw.process_std_v_mps]) ** 2

    # geometry -------------------------------------------------------------------------------
    def state(self, xy: np.ndarray, vx: float, i: int) -> np.ndarray:
        dx, dy = xy - self.rsu[i]
        d = math.hypot(dx, dy)
        return np.array([dx / d, d, -(dx / d) * vx])

    def cart(self, s: np.ndarray, i: int, speed: float) -> tuple[np.ndarray, float]:
        phi, d, vdot = s
        v = vdot / phi if abs(phi) >= self.hw.phi_guard else speed
        xy = self.rsu[i] + np.array([d * phi, self.side[i] * d * math.sqrt(1 - phi * phi)])
        return xy, -v

    def convert(self, s: np.ndarray, i: int, j: int, speed: float) -> np.ndarray:
        xy, vx = self.cart(s, i, speed)
        return self.state(xy, vx, j)

    def move(self, s: np.ndarray, i: int, speed: float) -> np.ndarray:
        xy, vx = self.cart(s, i, speed)
        return self.state(xy + np.array([vx * self.hw.slot_s, 0.0]), vx, i)

    @staticmethod
    def jac(fn: Any, s: np.ndarray) -> np.ndarray:
        h = np.array([1e-7, 1e-5, 1e-5])
        cols = [(fn(s + h[k] * np.eye(3)[k]) - fn(s - h[k] * np.eye(3)[k])) / (2 * h[k])
                for k in range(3)]
        return np.stack(cols, axis=1)

    # measurement ------------------------------------------------------------------------------
    def mean(self, s: np.ndarray, f: np.ndarray, d_beta: float) -> np.ndarray:
        hw = self.hw
        phi, d, vdot = s
        beta = hw.fading / (2 * d_beta)
        r = hw.kappa * beta * hw.mf_gain * _steer(hw.num_rx, phi) * (
            _steer(hw.num_tx, phi).conj() @ f)
        return np.concatenate([r.real, r.imag, [2 * d / C, 2 * vdot * hw.carrier_hz / C]])

    def h_jac(self, s: np.ndarray, f: np.ndarray) -> np.ndarray:
        """eq. (22) by hand: d r / d phi from the steering derivatives, beta known."""
        hw = self.hw
        phi, d, _ = s
        beta = hw.fading / (2 * d)
        a, b = _steer(hw.num_tx, phi), _steer(hw.num_rx, phi)
        da, db = _dsteer(hw.num_tx, phi), _dsteer(hw.num_rx, phi)
        dr = hw.kappa * beta * hw.mf_gain * (db * (a.conj() @ f) + b * (da.conj() @ f))
        m = 2 * hw.num_rx + 2
        jac = np.zeros((m, 3))
        jac[:hw.num_rx, 0], jac[hw.num_rx:2 * hw.num_rx, 0] = dr.real, dr.imag
        jac[-2, 1] = 2 / C
        jac[-1, 2] = 2 * hw.carrier_hz / C
        return jac

    def var(self, s: np.ndarray, f: np.ndarray) -> np.ndarray:
        hw = self.hw
        phi, d, _ = s
        eta = _steer(hw.num_tx, phi).conj() @ f
        snr = hw.mf_gain * hw.kappa**2 * abs(hw.fading) ** 2 / (4 * d * d) * abs(eta) ** 2
        base = hw.sensing_noise_var / snr
        return np.concatenate([np.full(2 * hw.num_rx, hw.echo_noise_var / 2),
                               [hw.rho_nu**2 * base, hw.rho_mu**2 * base]])

    def info(self, s: np.ndarray, f: np.ndarray, c_f: float = 2.0) -> np.ndarray:
        """Measurement information of (35) at state s with beam f (explicit Π)."""
        hw = self.hw
        phi, d, _ = s
        a, b = _steer(hw.num_tx, phi), _steer(hw.num_rx, phi)
        da, db = _dsteer(hw.num_tx, phi), _dsteer(hw.num_rx, phi)
        pi = np.outer(db, a.conj()) + np.outer(b, da.conj())
        beta2 = abs(hw.fading) ** 2 / (4 * d * d)
        v = self.var(s, f)
        return np.diag([c_f * hw.kappa**2 * beta2 * hw.mf_gain**2 * np.linalg.norm(pi @ f) ** 2
                        / hw.echo_noise_var, (2 / C) ** 2 / v[-2],
                        (2 * hw.carrier_hz / C) ** 2 / v[-1]])

    def row(self, s: np.ndarray) -> np.ndarray:
        hw = self.hw
        return hw.kappa_comm * math.sqrt(hw.alpha_tilde) / s[1] * _steer(hw.num_tx, s[0]).conj()


class Flip:
    """Serving RSU alternates every slot (every vehicle at RSU n % 2), f = sqrt(P) a(phi_hat):
    a handover at every slot."""

    name = "flip"

    def __init__(self) -> None:
        self.calls = 0

    def design(self, p: TwinProblem) -> Design:
        i = self.calls % 2
        self.calls += 1
        assign = torch.full(p.mask.shape, i, dtype=torch.int64)
        phi = p.state[:, i, :, 0]
        m = torch.arange(p.num_tx, dtype=torch.float64)
        f = torch.polar(torch.ones_like(phi)[..., None], -math.pi * m * phi[..., None])
        w = torch.zeros_like(p.h)
        w[:, i] = f * math.sqrt(p.power / p.num_tx)
        return Design(w=w, extras={"assign": assign})


def _traffic(x0: list[float], direction: list[float], speed: list[float], hw: HighwayConfig
             ) -> Traffic:
    x, d, v = (torch.tensor([a], dtype=torch.float64) for a in (x0, direction, speed))
    lane = torch.where(d > 0, hw.lane_y_m[0], hw.lane_y_m[1]).to(torch.float64)
    arrival = -(d * x + hw.half_length_m) / v
    return Traffic(arrival_s=arrival, direction=d, speed_mps=v, lane_y_m=lane,
                   mask=torch.ones_like(x, dtype=torch.bool), wrap=True)


def test_twin_equals_a_hand_stepped_loop() -> None:
    """Two vehicles, six slots, a handover at every slot: rates, filtered states, covariances
    and the PCRB of run_twin equal an explicit per-vehicle loop (finite-difference Jacobians,
    the EKF in information form, the rate of (10) by hand)."""
    s = make_settings(num_antennas=8, power_db=20.0, sensing_constraint="none")
    hw = s.highway
    xs, dirs, speeds = [-20.0, 12.0], [1.0, -1.0], [31.0, 27.5]
    traffic = _traffic(xs, dirs, speeds, hw)
    slots = 6
    trace = run_twin(s, traffic, Flip(), slots, generator=make_generator(11), record=True)
    assert trace.records is not None

    ref = Ref(hw)
    gen = make_generator(11)
    std0 = np.array([hw.init_std_phi, hw.init_std_d_m, hw.init_std_v_mps])
    m0 = np.diag(std0**2)
    k_n = len(xs)
    tracks: list[dict[str, Any]] = [{} for _ in range(k_n)]
    for n in range(slots):
        t = n * hw.slot_s
        z = torch.randn(1, k_n, 3, generator=gen, dtype=torch.float64).numpy()[0]
        zv = torch.randn(1, k_n, generator=gen, dtype=torch.float64).numpy()[0]
        i_srv = n % 2
        truths, preds, beams, pcrb_pred = [], [], [], []
        for k in range(k_n):
            vx = dirs[k] * speeds[k]
            xy = np.array([xs[k] + vx * t, hw.lane_y_m[0] if dirs[k] > 0 else hw.lane_y_m[1]])
            xy_prev = xy - np.array([vx * hw.slot_s, 0.0])
            truth = [ref.state(xy, vx, i) for i in range(2)]
            tprev = [ref.state(xy_prev, vx, i) for i in range(2)]
            tr = tracks[k]
            if n == 0:  # track start: truth one slot earlier + N(0, M0) at the nearest RSU
                near = int(np.argmin([tprev[0][1], tprev[1][1]]))
                tr.update(x=tprev[near] + std0 * z[k], cov=m0, frame=near,
                          speed=-vx + hw.init_std_v_mps * zv[k], bound=m0)
            fr, spd = tr["frame"], tr["speed"]
            # convert to the serving RSU's frame, then predict (track and bound)
            xc = tr["x"] if fr == i_srv else ref.convert(tr["x"], fr, i_srv, spd)
            jc = np.eye(3) if fr == i_srv else ref.jac(
                partial(ref.convert, i=fr, j=i_srv, speed=spd), tr["x"])
            g = ref.jac(partial(ref.move, i=i_srv, speed=spd), xc)
            x_hat = ref.move(xc, i_srv, spd)
            m_hat = g @ (jc @ tr["cov"] @ jc.T) @ g.T + ref.e
            jb = np.eye(3) if fr == i_srv else ref.jac(
                partial(ref.convert, i=fr, j=i_srv, speed=-vx), tprev[fr])
            gb = ref.jac(partial(ref.move, i=i_srv, speed=-vx), tprev[i_srv])
            b_hat = gb @ (jb @ tr["bound"] @ jb.T) @ gb.T + ref.e
            f = math.sqrt(hw.power) * _steer(hw.num_tx, x_hat[0])
            truths.append(truth)
            preds.append((x_hat, m_hat))
            beams.append(f)
            pcrb_pred.append(b_hat)
        # rate of (10) on the true channels at the serving RSU
        rows = [ref.row(truths[k][i_srv]) for k in range(k_n)]
        rates = []
        for k in range(k_n):
            sig = abs(rows[k] @ beams[k]) ** 2
            interf = sum(abs(rows[k] @ beams[m]) ** 2 for m in range(k_n) if m != k)
            rates.append(math.log2(1 + sig / (interf + hw.comm_noise_var)))
        assert float(trace.sum_rate[n, 0]) == pytest.approx(sum(rates), rel=1e-9)
        # echo, EKF update in information form, PCRB update
        rec = trace.records[n]
        noise = torch.randn(1, k_n, 2 * hw.num_rx + 2, generator=gen,
                            dtype=torch.float64).numpy()[0]
        for k in range(k_n):
            x_hat, m_hat = preds[k]
            xt = truths[k][i_srv]
            y = ref.mean(xt, beams[k], xt[1]) + np.sqrt(ref.var(xt, beams[k])) * noise[k]
            np.testing.assert_allclose(rec["y"][0, k].numpy(), y, rtol=1e-9,
                                       atol=1e-9 * float(np.abs(y).max()))
            hj = ref.h_jac(x_hat, beams[k])
            qinv = 1.0 / ref.var(x_hat, beams[k])
            m_new = np.linalg.inv(np.linalg.inv(m_hat) + hj.T @ (qinv[:, None] * hj))
            x_new = x_hat + m_new @ hj.T @ (qinv * (y - ref.mean(x_hat, beams[k], x_hat[1])))
            got_x = (rec["err"][0, k] + rec["state_true"][0, k]).numpy()
            np.testing.assert_allclose(got_x, x_new, rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(rec["cov"][0, k].numpy(), m_new, rtol=2e-5,
                                       atol=1e-14)
            bound = np.linalg.inv(np.linalg.inv(pcrb_pred[k]) + ref.info(xt, beams[k]))
            np.testing.assert_allclose(rec["bound_diag"][0, k].numpy(), np.diag(bound),
                                       rtol=2e-5)
            assert int(rec["assign"][0, k]) == i_srv and int(rec["age"][0, k]) == n
            tracks[k].update(x=x_new, cov=m_new, frame=i_srv, speed=x_new[2] / x_new[0],
                             bound=bound)
        rc = np.mean([math.sqrt(tracks[k]["bound"][1, 1]) for k in range(k_n)])
        assert float(trace.rcrb_m[n, 0]) == pytest.approx(rc, rel=1e-5)


def test_vehicles_leaving_and_arriving_are_masked() -> None:
    """Poisson traffic: the count per slot equals the vehicles on the segment; slots of an empty
    road have rate 0 and no RCRB."""
    from isaclearn.channels.highway import positions, sample_poisson_traffic

    s = make_settings(num_antennas=4, power_db=0.0, sensing_constraint="none")
    tr = sample_poisson_traffic(s.highway, 5.0, 1.0, 2, make_generator(4))
    trace = run_twin(s, tr, make_designer("steer"), 60, generator=make_generator(5))
    for n in range(60):
        _, _, active = positions(tr, n * s.highway.slot_s, s.highway)
        assert trace.num_vehicles[n].tolist() == active.sum(1).tolist()
    empty = trace.num_vehicles == 0
    assert bool(empty[0].all())  # the road starts empty
    assert bool((trace.sum_rate[empty] == 0).all()) and bool(trace.rcrb_m[empty].isnan().all())
    assert bool((trace.sum_rate[~empty] > 0).all())


# --------------------------------------------------------------------------------- scoring


def _snapshot(k: int = 4, n: int = 8, batch: int = 3, **kw: Any) -> TwinProblem:
    return make_scenario(k, warmup_slots=3, num_antennas=n, power_db=20.0, **kw).sample(
        batch, generator=make_generator(2))


def test_evaluate_equals_an_explicit_loop_over_eq_10() -> None:
    p = _snapshot()
    d = make_designer("alg3", make_settings(num_antennas=8, power_db=20.0)).design(p)
    got = evaluate(p, d)
    a = d.extras["assign"]
    for b in range(p.batch_size):
        total = 0.0
        for k in range(p.num_vehicles):
            i = int(a[b, k])
            h = p.h_true[b, i, k]
            sig = abs(complex((h * d.w[b, i, k]).sum())) ** 2
            interf = sum(abs(complex((h * d.w[b, i, m]).sum())) ** 2
                         for m in range(p.num_vehicles) if m != k and int(a[b, m]) == i)
            total += math.log2(1 + sig / (interf + p.noise_var))
        assert float(got["sum_rate"][b]) == pytest.approx(total, rel=1e-10)
        assert float(got["rate_per_vehicle"][b]) == pytest.approx(total / p.num_vehicles)
    assert bool(got["accuracy"].isnan().all())  # no reference labels
    ref = evaluate(TwinProblem(**{**p.__dict__, "reference_assign": a}), d)
    assert bool((ref["accuracy"] == 1).all())


def test_steer_and_genie_designers() -> None:
    p = _snapshot()
    d = make_designer("steer").design(p)
    a = d.extras["assign"]
    assert torch.equal(a, p.distance_m.argmin(1))
    for b in range(p.batch_size):
        for k in range(p.num_vehicles):
            i = int(a[b, k])
            f = d.w[b, i, k]
            phi = float(p.state[b, i, k, 0])
            np.testing.assert_allclose(f.numpy(), math.sqrt(p.power) * _steer(8, phi),
                                       atol=1e-12)
            assert float(d.w[b, 1 - i, k].abs().max()) == 0.0
    # the genie designs on the truth: its beams point at the true angles
    g = make_designer("steer")
    dg = g.design(p.genie())
    assert torch.allclose(dg.w.abs().sum(-1), d.w.abs().sum(-1))
    assert not torch.allclose(dg.w, d.w)


def _alg3_vs_exhaustive(mode: str, power_db: float, ks: tuple[int, ...], batch: int,
                        antennas: int = 8, slack: float = 1e-3) -> None:
    s = make_settings(num_antennas=antennas, power_db=power_db, sensing_constraint=mode)
    for k in ks:
        p = make_scenario(k, warmup_slots=3, num_antennas=antennas, power_db=power_db,
                          sensing_constraint=mode).sample(batch, generator=make_generator(k))
        rate = {n: evaluate(p, make_designer(n, s).design(p))["sum_rate"]
                for n in ("alg3", "exhaustive", "distance", "greedy")}
        assert float(rate["alg3"].mean()) >= 0.95 * float(rate["exhaustive"].mean())
        # FP + PGD is a local method: the oracle's beams for an assignment may fall short of
        # those Alg. 3 reaches by warm starts, by up to ``slack`` relative
        assert bool((rate["exhaustive"] >= rate["alg3"] * (1 - slack)).all())
        assert bool((rate["exhaustive"] >= rate["distance"] * (1 - slack)).all())
        if k == 1:
            assert torch.allclose(rate["greedy"], rate["distance"], rtol=1e-6)
            assert torch.allclose(rate["exhaustive"], rate["distance"], rtol=1e-6)


def test_alg3_reaches_95pct_of_exhaustive_through_the_system() -> None:
    """Alg. 3 vs the exhaustive oracle on twin snapshots (rate-only design, 40 dB): mean sum
    rate >= 95 %; the oracle is never beaten by more than FP's tolerance; at K = 1 greedy =
    distance = exhaustive."""
    _alg3_vs_exhaustive("none", 40.0, (1, 4), 4)


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "power_db", "ks"), [("none", 40.0, (4, 8)),
                                                    ("paper", 20.0, (4, 8))])
def test_alg3_reaches_95pct_of_exhaustive_slow(mode: str, power_db: float,
                                               ks: tuple[int, ...]) -> None:
    """The same at N = 32 up to K = 8, also with the literal sensing constraint at 20 dB.
    Where the target is missed (literal constraint at 40 dB, K = 8: 93 %; N = 8 at 40 dB, K = 8:
    94 %) it is measured and reported in docs/ding_dt.md, not asserted."""
    _alg3_vs_exhaustive(mode, power_db, ks, 6, antennas=32, slack=2e-2)


def test_exhaustive_refuses_large_k() -> None:
    p = _snapshot(k=5, n=4, batch=1)
    s = make_settings(num_antennas=4, max_exhaustive=4)
    with pytest.raises(ConfigError, match="exceeds its limit 4"):
        make_designer("exhaustive", s).design(p)


# --------------------------------------------------------------------------------- Bi-LSTM


def _nets(n: int = 8, project: bool = False) -> LstmDesigner:
    a = BiLstmNet(BiLstmConfig(num_tx=n, num_rx=n, head="assign", hidden_size=8,
                               dense_width=8))
    b = BiLstmNet(BiLstmConfig(num_tx=n, num_rx=n, head="beam", hidden_size=8, dense_width=8,
                               output_scale=10.0))
    return LstmDesigner(a.eval(), b.eval(), project_sensing=project)


def test_lstm_designer_is_the_two_nets_on_x_sorted_vehicles() -> None:
    from isaclearn.learn.bilstm import predict_assignment, predict_beams

    p = _snapshot()
    lstm = _nets()
    d = lstm.design(p)
    assert p.features is not None
    for b in range(p.batch_size):
        order = torch.argsort(p.x_m[b])
        feats = p.features[b, order][None]
        lengths = torch.tensor([p.num_vehicles])
        a = predict_assignment(lstm.assign_net, feats, lengths)[0]
        f = predict_beams(lstm.beam_net, feats, lengths, power=p.power)[0]
        for j, k in enumerate(order.tolist()):
            assert int(d.extras["assign"][b, k]) == int(a[j])
            torch.testing.assert_close(d.w[b, int(a[j]), k], f[j].to(d.w.dtype))
            assert float(d.w[b, 1 - int(a[j]), k].abs().max()) == 0.0
    assert float(d.w.abs().square().sum(-1).max()) <= p.power * (1 + 1e-6)
    # a padded vehicle (mask False) changes nothing for the real ones
    pad = TwinProblem(**{**p.__dict__, "mask": p.mask.clone()})
    pad.mask[:, -1] = False
    d2 = lstm.design(pad)
    torch.testing.assert_close(d2.w[:, :, :-1], lstm.design(_drop_last(p)).w)
    assert float(d2.w[:, :, -1].abs().max()) == 0.0


def test_lstm_beams_are_projected_onto_the_sensing_constraint() -> None:
    """With the literal constraint, every served beam of the (untrained) Bi-LSTM designer meets
    the constraint where it is feasible and stays within the power budget; beams that already
    meet it are left as the network gave them."""
    from isaclearn.systems.ding_dt import slot_metrics

    p = _snapshot(k=6)
    raw = _nets(project=False).design(p)
    d = _nets(project=True).design(p)
    m_raw, m = slot_metrics(p, raw), slot_metrics(p, d)
    assert int(m_raw.violated.sum()) > 0 and int(m.violated.sum()) == 0
    assert torch.equal(d.extras["assign"], raw.extras["assign"])
    assert float(d.w.abs().square().sum(-1).max()) <= p.power * (1 + 1e-9)
    keep = p.mask & ~m_raw.constrained | (m_raw.constrained & ~m_raw.violated
                                          & ~m_raw.infeasible)
    same = (d.w == raw.w).all(-1).all(1)
    assert bool(same[keep & ~m_raw.active].all())


def _drop_last(p: TwinProblem) -> TwinProblem:
    out: dict[str, Any] = {}
    for name, v in p.__dict__.items():
        if not isinstance(v, torch.Tensor):
            out[name] = v
        elif name in ("h", "state", "cov", "h_true", "state_true", "gram", "threshold",
                      "prev_beams", "bound_pred"):
            out[name] = v[:, :, :-1]
        else:
            out[name] = v[:, :-1]
    return TwinProblem(**out)


def test_lstm_guards(tmp_path: Path) -> None:
    lstm = _nets(8)
    p = _snapshot()
    empty = TwinProblem(**{**_drop_last(_drop_last(_drop_last(_drop_last(p)))).__dict__})
    with pytest.raises(ConfigError, match="K = 0"):
        lstm.design(empty)
    with pytest.raises(ConfigError, match="N_t = 8"):
        lstm.design(_snapshot(n=4))
    save_bilstm(tmp_path / "lstm_assign_x", lstm.assign_net)
    save_bilstm(tmp_path / "lstm_beam_x", lstm.beam_net)
    assert isinstance(load_lstm_designer(tmp_path / "lstm_assign_x", tmp_path / "lstm_beam_x",
                                         num_tx=8), LstmDesigner)
    with pytest.raises(CheckpointError, match="num_tx"):
        load_lstm_designer(tmp_path / "lstm_assign_x", tmp_path / "lstm_beam_x", num_tx=16)


# --------------------------------------------------------------------------------- registry


def test_registry_entries() -> None:
    spec = get_system("ding_dt")
    assert spec.metrics == {"sum_rate": "bit/s/Hz", "rate_per_vehicle": "bit/s/Hz",
                            "rcrb_m": "m", "accuracy": "1"}
    assert not spec.higher_is_better["rcrb_m"]
    names = set(spec.designer_entries())
    assert {"alg3", "greedy", "distance", "exhaustive", "steer", "genie"} <= names
    exps = {n.split(".", 1)[1] for n in spec.experiments()}
    assert {"vehicles", "antennas", "dynamic_20", "dynamic_50", "rcrb", "lstm_assign",
            "lstm_beam", "runtime"} <= exps
    for name, e in spec.experiments().items():
        assert {"quick", "paper"} <= set(e.profiles), name
        e.make_config("quick")
        e.make_config("paper")
        assert e.plots and e.description and "method" in e.table_columns
    paper = experiments()["ding_dt.vehicles"].make_config("paper")
    assert paper.power_dbs == (0.0, 20.0, 40.0) and paper.num_antennas == 32
    assert experiments()["ding_dt.dynamic_20"].make_config("paper").num_seeds >= 20
    assert experiments()["ding_dt.dynamic_50"].make_config("paper").rate_per_s == 12.5


# --------------------------------------------------------------------------------- platform

TINY = ["--set", "num_antennas=4", "--set", "fp_tol=1e-3", "--set", "fp_max_iter=10"]


def run_cli(argv: list[Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_ding_dt(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["list", "--system", "ding_dt"], capsys)
    assert code == 0
    assert "alg3" in out and "ding_dt.dynamic_20" in out and "rcrb_m" in out
    code, out, _ = run_cli(["list", "ding_dt.vehicles"], capsys)
    assert code == 0 and "power_dbs" in out and "sensing_constraint" in out


def test_dynamic_run_is_killed_then_resumed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A dynamic run killed after its first seed chunk resumes without recomputing it."""
    from isaclearn.systems.ding_dt import experiments as ex

    real = ex._dynamic_chunk
    calls: list[list[int]] = []

    def chunk(cfg: Any, seeds: list[int], ctx: Any, cache: Any) -> Any:
        if calls and stop["now"]:
            raise KeyboardInterrupt
        calls.append(list(seeds))
        return real(cfg, seeds, ctx, cache)

    stop = {"now": True}
    monkeypatch.setattr(ex, "_dynamic_chunk", chunk)
    out_dir = tmp_path / "dyn"
    args = ["run", "ding_dt.dynamic_20", "--out", out_dir, *TINY, "--set", "duration_s=0.2",
            "--set", "num_seeds=2", "--set", "seed_chunk=1", "--set",
            "methods=alg3,distance", "--set", "bin_s=0.1", "--set", "early_s=0.1",
            "--set", "rate_per_s=10"]
    code, _, err = run_cli(args, capsys)
    assert code == 130 and calls == [[0]] and "--resume" in err
    stop["now"] = False
    code, out, err = run_cli([*args, "--resume"], capsys)
    assert code == 0, err
    assert calls == [[0], [1]]
    text = (out_dir / "results.csv").read_text()
    assert "gain_vs_distance" in text and (out_dir / "dynamic.png").exists()
    import json

    summary = json.loads((out_dir / "summary.json").read_text())
    assert "time_average_order" in json.dumps(summary)


def test_bench_ding_dt(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["bench", "ding_dt", "--vehicles", "2", "--antennas", "4",
                              "--batch", "1", "--designers", "alg3,lstm,distance"], capsys)
    assert code == 0, err
    assert "ratio_to_alg3" in out and "lstm" in out


@pytest.mark.parametrize(("argv", "needle"), [
    (["run", "ding_dt.dynamic_20", "--set", "rate_per_s=-1"], "rate_per_s"),
    (["run", "ding_dt.vehicles", "--set", "vehicles=0,5"], "vehicles"),
    (["run", "ding_dt.vehicles", "--set", "methods=alg3,nosuch"], "nosuch"),
    (["run", "ding_dt.rcrb", "--set", "sensing_constraint=loose"], "sensing_constraint"),
    (["run", "ding_dt.lstm_assign", "--set", "lstm_instances=0"], "lstm_instances"),
])
def test_bad_configs_give_one_line_errors(argv: list[str], needle: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli([*argv, "--out", tmp_path / "x"], capsys)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_checkpoint_for_another_nt_is_refused(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    lstm = _nets(8)
    save_bilstm(tmp_path / "lstm_assign_n8", lstm.assign_net)
    save_bilstm(tmp_path / "lstm_beam_n8", lstm.beam_net)
    code, _, err = run_cli(["run", "ding_dt.antennas", "--out", tmp_path / "r", *TINY,
                            "--set", "antennas=4", "--set", "num_vehicles=2",
                            "--set", "methods=distance,lstm",
                            "--set", f"lstm_checkpoint={tmp_path / 'lstm_assign_n8'}"], capsys)
    last = err.strip().splitlines()[-1]  # progress lines come first; the error is one line
    assert code == 2 and last.startswith("isaclearn: error: ") and "num_tx" in last
    assert "Traceback" not in err


_LSTM_TINY = {"lstm_train": "16", "lstm_val": "8", "lstm_hidden": "4", "lstm_dense": "4",
              "lstm_epochs_assign": "1", "lstm_epochs_beam": "1", "lstm_data_k": "2"}
_TINY_EXTRA = {
    "vehicles": {**_LSTM_TINY, "vehicles": "2", "power_dbs": "20", "num_seeds": "1",
                 "warmup_slots": "1", "measure_slots": "1", "exhaustive_max_k": "2",
                 "methods": "alg3,lstm,distance,exhaustive"},
    "antennas": {**_LSTM_TINY, "antennas": "4", "num_vehicles": "2", "num_seeds": "1",
                 "warmup_slots": "1", "measure_slots": "1", "methods": "alg3,distance"},
    "rcrb": {"antennas": "4", "duration_s": "0.2", "num_seeds": "1", "max_age": "5"},
    "lstm_assign": {**_LSTM_TINY, "vehicles": "2"},
    "lstm_beam": {**_LSTM_TINY, "vehicles": "2"},
    "runtime": {"vehicles": "2", "batch": "1", "lstm_hidden": "4", "lstm_dense": "4",
                "methods": "alg3,lstm"},
}


@pytest.mark.parametrize("name", sorted(_TINY_EXTRA))
def test_tiny_experiments_run_in_memory(name: str) -> None:
    """Every experiment on a tiny config: rows carry the plotted columns and a summary with
    claims; a second call on the same context resumes without recomputing."""
    base = {"num_antennas": "4", "fp_tol": "1e-3", "fp_max_iter": "10"}
    spec = experiments()[f"ding_dt.{name}"]
    cfg = spec.make_config("quick", {**base, **_TINY_EXTRA[name]})
    ctx = MemoryContext()
    summary = spec.fn(cfg, ctx)
    rows = ctx.rows()
    assert rows and all("method" in r for r in rows) and "claims" in summary
    for plot in spec.plots:
        assert any(plot.x in r and all(y in r for y in plot.y) for r in rows)
    n = len(rows)
    spec.fn(cfg, ctx)
    assert len(ctx.rows()) == n


@pytest.mark.parametrize("name", ["lstm_assign", "vehicles"])
def test_lstm_instances_sets_the_independent_twin_instances(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``lstm_instances`` reaches :func:`collect_snapshots` as its ``batch`` (the number of
    independent traffic instances), for the training and the validation data."""
    import isaclearn.systems.ding_dt.experiments as ex

    seen: list[int] = []
    real = ex.collect_snapshots

    def spy(*args: Any, **kw: Any) -> Any:
        seen.append(int(kw["batch"]))
        return real(*args, **kw)

    monkeypatch.setattr(ex, "collect_snapshots", spy)
    base = {"num_antennas": "4", "fp_tol": "1e-3", "fp_max_iter": "10", "lstm_instances": "3"}
    spec = experiments()[f"ding_dt.{name}"]
    extra = dict(_TINY_EXTRA[name])
    if name == "vehicles":
        extra["methods"] = "distance,lstm"
    spec.fn(spec.make_config("quick", {**base, **extra}), MemoryContext())
    assert seen == [3, 3]
