"""Tests of isaclearn.learn.loop: the selection and stopping rules against a hand-written
reference, a least-squares fit against its closed form, a sequence (Bi-LSTM) task, resume with
task generators, the guards (short batches, non-finite loss and gradient, clipping, time)."""

from __future__ import annotations

import math
import random

import pytest
import torch
from torch import nn

from isaclearn.core import ConfigError, make_generator
from isaclearn.learn import BatchLoss, TrainConfig, TrainTask, fit, weights_digest


def _cfg(**kw: object) -> TrainConfig:
    base: dict[str, object] = dict(batch_size=8, max_epochs=50, patience=5, min_delta=0.0,
                                   lr_factor=0.5, lr_patience=2, min_lr=0.0, seed=0)
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


class Scripted(TrainTask):
    """Validation losses from a script; a trivial trainable model (for Adam)."""

    def __init__(self, losses: list[float]) -> None:
        self.model = nn.Linear(1, 1)
        self.num_train = 8
        self.generator_seeds = {"shuffle": 0}
        self.losses = list(losses)
        self.calls = 0

    def train_batch(self, idx: torch.Tensor, generators: dict[str, torch.Generator]
                    ) -> BatchLoss:
        loss = self.model(torch.ones(len(idx), 1)).pow(2).mean() * 0.0
        return BatchLoss(loss, {"total": 0.0})

    def validate(self) -> dict[str, float]:
        self.calls += 1
        return {"total": self.losses[self.calls - 1]}


def _reference(losses: list[float], cfg: TrainConfig) -> tuple[int, int, str]:
    """(best epoch, epochs run, stop reason) by the rules as stated in the module docstring."""
    best, best_epoch, bad = math.inf, 0, 0
    for e, v in enumerate(losses, start=1):
        v = v if math.isfinite(v) else math.inf
        if (math.isfinite(best) and v < best - cfg.min_delta * abs(best)) or (
                not math.isfinite(best) and math.isfinite(v)):
            best, best_epoch, bad = v, e, 0
        else:
            bad += 1
        if bad >= cfg.patience:
            return best_epoch, e, "early_stopping"
        if e >= cfg.max_epochs:
            return best_epoch, e, "max_epochs"
    raise AssertionError("script too short")


@pytest.mark.parametrize("case", range(40))
def test_selection_and_stopping_follow_the_stated_rules(case: int) -> None:
    rng = random.Random(case)
    losses = [rng.choice([1.0, 0.5, 0.49999, 0.4, 0.3, 0.2999, -0.1, -0.10001, math.nan,
                          math.inf]) for _ in range(30)]
    cfg = _cfg(patience=rng.choice([1, 2, 3, 5]), min_delta=rng.choice([0.0, 1e-4, 0.1]),
               max_epochs=rng.choice([4, 10, 30]))
    task = Scripted(losses)
    res = fit(task, cfg)
    best_epoch, epochs, stop = _reference(losses, cfg)
    assert (res.best_epoch, res.epochs, res.stop_reason) == (best_epoch, epochs, stop)
    want_best = losses[best_epoch - 1] if best_epoch else math.inf
    assert res.best_val_loss == want_best and res.finished
    assert len(res.history) == epochs == task.calls


def test_plateau_schedule_is_torchs() -> None:
    """Learning rates per epoch equal those of ReduceLROnPlateau stepped on the same losses;
    ``lr`` is the rate after the epoch's step and ``lr_used`` the rate the epoch trained with."""
    losses = [1.0, 0.9, 0.95, 0.97, 0.99, 0.8, 0.85, 0.86, 0.87, 0.88, 0.89, 0.9]
    cfg = _cfg(patience=100, max_epochs=len(losses), lr=0.1, lr_patience=1, min_lr=0.02)
    res = fit(Scripted(losses), cfg)
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1, min_lr=0.02)
    want, used = [], []
    for v in losses:
        used.append(opt.param_groups[0]["lr"])
        sched.step(v)
        want.append(opt.param_groups[0]["lr"])
    assert [h["lr"] for h in res.history] == want and res.lr == used
    assert min(want) == 0.02 and want != [0.1] * len(losses)


class LeastSquares(TrainTask):
    """min_w ||X w + b - y||² on a fixed set; the loop should reach the closed form."""

    def __init__(self, n: int = 96, d: int = 3, seed: int = 0) -> None:
        g = make_generator(seed)
        self.x = torch.randn(n, d, generator=g, dtype=torch.float64)
        self.y = self.x @ torch.tensor([1.5, -2.0, 0.5], dtype=torch.float64) + 0.3 \
            + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)
        self.model = nn.Linear(d, 1).double()
        self.num_train = self.num_val = n
        self.generator_seeds = {"shuffle": seed}

    def _loss(self, idx: torch.Tensor) -> torch.Tensor:
        return (self.model(self.x[idx])[:, 0] - self.y[idx]).pow(2)

    def train_batch(self, idx: torch.Tensor, generators: dict[str, torch.Generator]
                    ) -> BatchLoss:
        per = self._loss(idx)
        return BatchLoss(per.mean(), {"total": float(per.detach().sum())})

    def validate(self) -> dict[str, float]:
        return {"total": float(self._loss(torch.arange(self.num_train)).mean())}


def test_least_squares_reaches_the_closed_form() -> None:
    task = LeastSquares()
    res = fit(task, _cfg(batch_size=96, lr=0.1, max_epochs=3000, patience=200, lr_patience=20,
                         min_lr=1e-7))
    a = torch.cat([task.x, torch.ones(task.num_train, 1, dtype=torch.float64)], 1)
    sol = torch.linalg.lstsq(a, task.y[:, None]).solution[:, 0]
    got = torch.cat([task.model.weight[0], task.model.bias]).detach()
    torch.testing.assert_close(got, sol, atol=1e-4, rtol=0)
    opt_loss = float((a @ sol - task.y).pow(2).mean())
    assert res.best_val_loss == pytest.approx(opt_loss, rel=1e-6)
    assert res.best_val_loss == min(res.val_loss)


class BiLstmTask(TrainTask):
    """A sequence model as a later system would train it: a bidirectional LSTM maps ``[N, L, F]``
    sequences to one output per step (MSE), with input noise from its own generator."""

    def __init__(self, n: int = 48, length: int = 6, seed: int = 0) -> None:
        g = make_generator(100)
        self.x = torch.randn(n, length, 2, generator=g)
        # target: the mean of each step's neighbours (needs both directions)
        pad = torch.nn.functional.pad(self.x[..., 0], (1, 1))
        self.y = 0.5 * (pad[:, :-2] + pad[:, 2:])
        torch.manual_seed(seed)
        self.model = _BiLstm()
        self.num_train, self.num_val = n - 16, 16
        self.generator_seeds = {"shuffle": seed, "noise": seed + 1}

    def train_batch(self, idx: torch.Tensor, generators: dict[str, torch.Generator]
                    ) -> BatchLoss:
        xb = self.x[idx] + 0.01 * torch.randn(self.x[idx].shape, generator=generators["noise"])
        per = (self.model(xb) - self.y[idx]).pow(2).mean(-1)
        return BatchLoss(per.mean(), {"total": float(per.detach().sum())})

    def validate(self) -> dict[str, float]:
        sl = slice(self.num_train, None)
        return {"total": float((self.model(self.x[sl]) - self.y[sl]).pow(2).mean())}


class _BiLstm(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(2, 8, batch_first=True, bidirectional=True)
        self.head = nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(x)[0])[..., 0]


def test_sequence_task_trains_deterministically_and_resumes(tmp_path) -> None:
    cfg = _cfg(batch_size=8, lr=1e-2, max_epochs=6, patience=10, max_grad_norm=1.0)
    a, b = BiLstmTask(), BiLstmTask()
    ra, rb = fit(a, cfg), fit(b, cfg)
    assert ra.val_loss == rb.val_loss and ra.val_loss[-1] < ra.val_loss[0]
    assert weights_digest(a.model.state_dict()) == weights_digest(b.model.state_dict())
    c = BiLstmTask()
    part = fit(c, cfg, checkpoint=tmp_path / "seq", stop_after_epochs=3)
    assert not part.finished and part.stop_reason == "interrupted"
    d = BiLstmTask(seed=5)  # other initial weights: all of them come from the checkpoint
    res = fit(d, cfg, checkpoint=tmp_path / "seq", resume=True)
    assert res.val_loss == ra.val_loss and res.train_loss == ra.train_loss
    assert weights_digest(d.model.state_dict()) == weights_digest(a.model.state_dict())


class Counting(TrainTask):
    """Records batch sizes; batch ``bad`` gives a NaN loss and batch ``nan_grad`` a finite loss
    with a NaN gradient."""

    def __init__(self, n: int, min_batch: int, bad: int = -1, nan_grad: int = -1) -> None:
        self.model = nn.Linear(2, 1)
        self.num_train = n
        self.min_batch_size = min_batch
        self.generator_seeds = {"shuffle": 0}
        self.sizes: list[int] = []
        self.bad, self.nan_grad = bad, nan_grad

    def train_batch(self, idx: torch.Tensor, generators: dict[str, torch.Generator]
                    ) -> BatchLoss:
        self.sizes.append(len(idx))
        out = self.model(torch.ones(len(idx), 2)).pow(2).mean()
        if len(self.sizes) == self.bad:
            out = out * math.nan
        if len(self.sizes) == self.nan_grad:
            zero = out - out.detach()
            out = out + 0.0 * torch.sqrt(zero)  # value unchanged, gradient 0 * inf = NaN
        return BatchLoss(out, {"total": float(out.detach()) * len(idx)})

    def validate(self) -> dict[str, float]:
        return {"total": float(self.model(torch.ones(1, 2)).pow(2).mean())}


def test_short_batches_are_left_out_and_bad_steps_skipped() -> None:
    task = Counting(10, min_batch=3, bad=1, nan_grad=2)
    w0 = {k: v.clone() for k, v in task.model.state_dict().items()}
    res = fit(task, _cfg(batch_size=4, max_epochs=1))
    assert task.sizes == [4, 4]  # the last batch of 2 < 3 is left out, not counted as skipped
    assert res.history[0]["skipped_batches"] == 2
    assert res.history[0]["train_total"] == 0.0  # no step taken: no training mean
    assert all(bool(torch.isfinite(p).all()) for p in task.model.parameters())
    assert all(torch.equal(w0[k], v) for k, v in task.model.state_dict().items())


def test_gradient_clipping_uses_the_total_norm(monkeypatch) -> None:
    seen: list[tuple[float, float]] = []
    real = torch.nn.utils.clip_grads_with_norm_

    def spy(params, max_norm, total_norm, foreach=None):  # type: ignore[no-untyped-def]
        real(params, max_norm, total_norm, foreach)
        after = torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])
        seen.append((float(total_norm), float(after)))

    monkeypatch.setattr(torch.nn.utils, "clip_grads_with_norm_", spy)
    fit(BiLstmTask(), _cfg(batch_size=8, max_epochs=1, max_grad_norm=1e-3))
    assert len(seen) == 4 and all(before > 1e-3 for before, _ in seen)
    assert all(after == pytest.approx(1e-3, rel=1e-3) for _, after in seen)
    seen.clear()
    fit(BiLstmTask(), _cfg(batch_size=8, max_epochs=1))
    assert not seen


def test_time_limit_finishes_and_time_budget_interrupts(tmp_path) -> None:
    res = fit(BiLstmTask(), _cfg(max_epochs=50, max_time_s=1e-9))
    assert res.finished and res.stop_reason == "time_limit" and res.epochs == 1
    res = fit(BiLstmTask(), _cfg(max_epochs=50), time_budget_s=1e-9,
              checkpoint=tmp_path / "t")
    assert not res.finished and res.stop_reason == "interrupted" and res.epochs == 1


def test_task_and_config_errors() -> None:
    task = Scripted([1.0])
    task.generator_seeds = {"other": 1}
    with pytest.raises(ConfigError, match="shuffle"):
        fit(task, _cfg())

    class NoTotal(Scripted):
        def validate(self) -> dict[str, float]:
            return {"loss": 1.0}

    with pytest.raises(ConfigError, match="total"):
        fit(NoTotal([1.0]), _cfg())
    for bad in ({"weight_decay": -1.0}, {"max_grad_norm": 0.0}, {"min_delta": -0.1},
                {"lr_patience": -1}, {"lr_factor": 1.0}, {"patience": 0}):
        with pytest.raises(ConfigError):
            _cfg(**bad)
