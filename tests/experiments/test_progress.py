"""Progress of long work (issue 13, defect 7): a line at least every ``log_interval_s`` while a
``ctx.progress`` loop runs, with an estimate of the time left; training, the SDR boundary and
the γ programs report through it."""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isaclearn.experiments.results import FolderContext
from isaclearn.systems.base import RunContext, get_experiment
from isaclearn.systems.toolkit import EpochLog, record_once, sweep

STAMP = re.compile(r"^\[(\d\d):(\d\d):(\d\d)\] ")


def _lines(stream: io.StringIO) -> list[str]:
    return [s for s in stream.getvalue().splitlines() if s.strip()]


def test_a_long_item_produces_lines_with_an_estimate(tmp_path: Path) -> None:
    stream = io.StringIO()
    ctx = FolderContext(tmp_path, stream=lambda: stream, log_interval_s=0.1)
    for _ in ctx.progress(range(3), desc="slow points"):
        time.sleep(0.45)
    lines = _lines(stream)
    assert any("slow points: 0/3 done" in s and "first one still running" in s for s in lines)
    assert any(re.search(r"slow points: [12]/3 done, \d+ s elapsed, about \d+ s left", s)
               for s in lines)
    assert len(lines) >= 6  # ~13 intervals of silence, each ended by a line
    assert (tmp_path / "run.log").read_text().count("slow points") == len(lines)
    time.sleep(0.3)  # after the loop the heartbeat is gone: no more lines
    assert len(_lines(stream)) == len(lines)


def test_no_progress_line_while_the_experiment_talks(tmp_path: Path) -> None:
    stream = io.StringIO()
    ctx = FolderContext(tmp_path, stream=lambda: stream, log_interval_s=0.3)
    for i in ctx.progress(range(4), desc="chatty"):
        ctx.log(f"point {i}")
        time.sleep(0.1)
    assert [s for s in _lines(stream) if "chatty" in s] == []


def test_terminal_shows_a_bar_and_run_log_gets_the_lines(tmp_path: Path) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    ctx = FolderContext(tmp_path, stream=lambda: stream, log_interval_s=0.1)
    for _ in ctx.progress(range(2), desc="bar"):
        time.sleep(0.3)
    assert "bar" in stream.getvalue()  # tqdm's bar
    assert "bar: 0/2 done" in (tmp_path / "run.log").read_text()


@dataclass
class SlowConfig:
    step_s: float = 0.5


def slow_fn(cfg: SlowConfig, ctx: RunContext) -> dict[str, Any]:
    record_once(ctx, "setup", lambda: [time.sleep(cfg.step_s) or {"method": "a", "y": 1.0}],
                desc="one long setup step")
    sweep(ctx, [1, 2], lambda p: f"p{p}",
          lambda p: [time.sleep(cfg.step_s) or {"method": "a", "y": float(p)}],
          desc="sweep points")
    return {}


def test_an_experiment_with_long_steps_is_never_silent(tmp_path: Path) -> None:
    stream = io.StringIO()
    ctx = FolderContext(tmp_path, stream=lambda: stream, log_interval_s=0.1)
    start = time.monotonic()
    slow_fn(SlowConfig(), ctx)
    took = time.monotonic() - start
    lines = _lines(stream)
    assert any("one long setup step: 0/1 done" in s for s in lines)
    assert any("sweep points: 1/2 done" in s and "left" in s for s in lines)
    assert len(lines) >= int(took / 0.1) // 2  # at most ~one interval (+ polling) between lines


def test_tiny_tradeoff_reports_epochs_gamma_and_sdr(tmp_path: Path) -> None:
    spec = get_experiment("temiz_unsup.tradeoff")
    cfg = spec.make_config("quick", {
        "antennas": "4", "num_users": "2", "rhos": "0,1", "variants": "dnn,struct_rho",
        "num_train": "200", "num_test": "20", "max_epochs": "3", "num_beta": "8",
        "num_gamma": "3", "sdr_instances": "2", "sdr_sinr_db": "0,5", "batch_size": "100"})
    stream = io.StringIO()
    ctx = FolderContext(tmp_path, stream=lambda: stream, log_interval_s=0.0)
    spec.fn(cfg, ctx)
    text = stream.getvalue()
    assert "computing beta (WMMSE on 8 channels) and gamma (3 sensing programs)" in text
    assert "M=4: gamma programs: 1/3 done" in text
    assert "M=4: SDR programs at SINR target 5 dB: 1/2 done" in text
    assert "M=4: sensing-only programs: 1/2 done" in text
    assert "M=4: MMSE, ZF, WMMSE on 20 instances: 1/3 done" in text
    assert re.search(r"dnn_M4_K2_snr20_rho0.00: epoch 1/3, train [-+]\d", text)
    assert re.search(r"struct_rho_M4_K2_snr20: epoch 1/3, .*val sum_rate .*at most ~\d+ s left",
                     text)


def test_epoch_log_throttles_and_passes_other_lines() -> None:
    now = [0.0]
    lines: list[str] = []
    log = EpochLog(lines.append, "net", 100, interval_s=10.0, max_time_s=30.0,
                   clock=lambda: now[0])
    log("resumed from x after epoch 3")
    for k in range(4, 40):
        now[0] += 1.0
        log(f"epoch {k:3d}  train -1.0  val -1.1  lr 1.0e-03  (1.0 s)")
    assert lines[0] == "net: resumed from x after epoch 3"
    epochs = [int(re.search(r"epoch (\d+)/100", s).group(1)) for s in lines[1:]]  # type: ignore
    assert epochs == [4, 14, 24, 34]  # the first, then one every 10 s
    # the estimate: mean epoch time x epochs to the limit, capped by the time limit
    assert lines[1].endswith("at most ~29 s left")
    assert lines[-1].endswith("at most ~0 s left")
