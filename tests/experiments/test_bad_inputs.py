"""The bad-input corpus of the command line (issue 13).

Every case drives :func:`isaclearn.cli.main` in-process with one bad input (a command line, a
config value, a run folder, an evaluate file of either system, a checkpoint, a bench or
leaderboard option) and must end in

* exactly one line ``isaclearn: error: <message>`` on standard error (after, for a few
  commands that log, their ``[...]`` progress lines), exit code 2, no traceback, nothing on
  standard output, and the words that name the problem in the message
  (:data:`ERROR_CASES`); or
* the documented correct behaviour, checked by the ``test_documented_*`` tests (a ``--rho``
  that a per-ρ network ignores is said so, ``--cvxpy-batch 0`` leaves the CVXPY scheme out, an
  unambiguous ``theta`` layout is read as documented, a rejected run leaves nothing behind, ...).

None may print a traceback and none may be silently accepted. Adding a system adds its file and
option cases here.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.io
import torch

from isaclearn.cli import main
from isaclearn.core.errors import ConfigError
from isaclearn.systems import base
from isaclearn.systems.base import ExperimentSpec, RunContext

B, K, M = 3, 4, 5
"""Sizes of the temiz_unsup evaluate files."""
QB, QT, QR, QK, QL = 3, 4, 4, 2, 6
"""Sizes of the qi_uplink evaluate files (B, N_t, N_r, K, L)."""


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# --------------------------------------------------------------------------- fixtures


def temiz_arrays(b: int = B, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    h = (rng.standard_normal((b, K, M)) + 1j * rng.standard_normal((b, K, M))) / math.sqrt(2)
    w = rng.standard_normal((b, M, K)) + 1j * rng.standard_normal((b, M, K))
    w /= np.linalg.norm(w, axis=(1, 2), keepdims=True)
    return {"H": h, "W": w, "theta": np.deg2rad([-10.0, 25.0]), "noise_var": 0.01,
            "radar_snr": 100.0, "num_rx": 10, "num_symbols": 2}


def qi_arrays() -> dict[str, Any]:
    from isaclearn.core.random import make_generator
    from isaclearn.solvers.uplink import Average
    from isaclearn.systems.qi_uplink import make_scenario

    sc = make_scenario(num_tx=QT, num_rx=QR, num_users=QK, num_symbols=QL)
    problem = sc.sample(QB, generator=make_generator(5)).to(dtype=torch.complex128)
    design = Average().design(problem)
    return {"h": problem.h.numpy(), "r_t": problem.r_t.numpy(), "p": problem.p.numpy(),
            "power_s": problem.power_s, "noise_var": problem.noise_var,
            "num_symbols": problem.num_symbols, "alpha": problem.alpha,
            "w": design.w.numpy(), "s": design.extras["s"].numpy()}


def save(path: Path, data: dict[str, Any]) -> Path:
    if path.suffix == ".npz":
        np.savez(path, **data)
    else:
        scipy.io.savemat(path, data)
    return path


@dataclass
class Env:
    """Files shared by the cases (built once per module)."""

    root: Path
    temiz_npz: Path
    temiz_mat: Path
    temiz_no_w: Path
    qi_npz: Path
    fixed: Path  # per-rho temiz network, M = 5, K = 4, trained for rho = 0.3
    cond: Path  # rho-conditioned temiz network, M = 5, K = 4, stored rho 0.3
    other_m: Path  # per-rho temiz network for M = 7, K = 4
    bench_other: Path  # per-rho temiz network for M = 6, K = 10 (bench/leaderboard use 10 x 10)
    qi_net: Path  # ISACNN for N_t = N_r = 4, K = 2
    tampered: Path
    garbage_json: Path
    no_tensors: Path
    run_dir: Path  # a finished run of corpus.tiny


def _temiz_net(stem: Path, m: int, k: int, *, conditioned: bool = False) -> Path:
    from isaclearn.learn import LearnedPrecoder, NetConfig, build_network, save_precoder

    torch.manual_seed(0)
    net = build_network(NetConfig(kind="structured", num_antennas=m, num_users=k, d_model=8,
                                  num_layers=1, num_heads=2, rho_conditioned=conditioned))
    with torch.no_grad():  # away from the initialization, where rho has no effect yet
        for p in net.parameters():
            p.normal_(0.0, 0.5)
    save_precoder(stem, LearnedPrecoder(net, rho=0.3))
    return stem


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    from isaclearn.learn.isacnn import UplinkNetConfig, build_uplink_network, save_uplink_net

    root = tmp_path_factory.mktemp("corpus")
    nets = root / "nets"
    nets.mkdir()
    fixed = _temiz_net(nets / "fixed", M, K)
    tampered = _temiz_net(nets / "tampered", M, K)
    blob = bytearray((nets / "tampered.safetensors").read_bytes())
    blob[-1] ^= 0xFF
    (nets / "tampered.safetensors").write_bytes(bytes(blob))
    garbage = nets / "garbage"
    (nets / "garbage.json").write_text("{not json")
    (nets / "garbage.safetensors").write_bytes(b"\0" * 64)
    no_tensors = _temiz_net(nets / "no_tensors", M, K)
    (nets / "no_tensors.safetensors").unlink()
    qi_net = nets / "qi"
    save_uplink_net(qi_net, build_uplink_network(UplinkNetConfig(num_tx=QT, num_rx=QR,
                                                                 num_users=QK)))
    data = temiz_arrays()
    spec = _register_tiny()
    try:
        run_dir = root / "run"
        assert main(["run", "corpus.tiny", "--out", str(run_dir)]) == 0
        yield Env(
            root=root,
            temiz_npz=save(root / "temiz.npz", data),
            temiz_mat=save(root / "temiz.mat", data),
            temiz_no_w=save(root / "temiz_no_w.npz", {k: v for k, v in data.items()
                                                       if k != "W"}),
            qi_npz=save(root / "qi.npz", qi_arrays()),
            fixed=fixed,
            cond=_temiz_net(nets / "cond", M, K, conditioned=True),
            other_m=_temiz_net(nets / "other_m", M + 2, K),
            bench_other=_temiz_net(root / "bench_nets" / "m6", 6, 10),
            qi_net=qi_net,
            tampered=tampered,
            garbage_json=garbage,
            no_tensors=no_tensors,
            run_dir=run_dir,
        )
    finally:
        base._REGISTRY.pop(spec.name, None)


# --------------------------------------------------------------------------- a tiny experiment


@dataclass
class TinyConfig:
    """Three sweep points."""

    points: tuple[int, ...] = (1, 2, 3)
    """Sweep points."""
    fail: bool = False
    """Reject the config inside the experiment, before the first sweep point."""


def tiny_fn(cfg: TinyConfig, ctx: RunContext) -> dict[str, Any]:
    if cfg.fail:
        raise ConfigError("tiny: the experiment rejects fail=true")
    for p in cfg.points:
        if not ctx.is_done(f"p{p}"):
            ctx.record(f"p{p}", [{"method": "a", "p": p, "score": float(p)}])
    return {"n": len(cfg.points)}


def _register_tiny() -> ExperimentSpec:
    return base.register(ExperimentSpec(name="corpus.tiny", fn=tiny_fn, config_cls=TinyConfig,
                                        profiles={"quick": {}, "paper": {}}))


# --------------------------------------------------------------------------- the checks


def run_cli(argv: list[Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, out: str, err: str, words: list[str], *,
                          logs: bool = False) -> str:
    """Exit code 2, one ``isaclearn: error:`` line (the last of stderr; before it only
    ``[...]`` log lines when ``logs``), the ``words`` in it, no traceback, empty stdout."""
    assert "Traceback" not in err and "Traceback" not in out, err
    assert code == 2, (code, out, err)
    lines = [s for s in err.splitlines() if s.strip()]
    errors = [s for s in lines if s.startswith("isaclearn: error: ")]
    assert len(errors) == 1, err
    assert lines[-1] == errors[0], err
    others = lines[:-1]
    if logs:
        assert all(s.startswith(("[", "isaclearn: warning: ")) for s in others), err
    else:
        assert not others, err
    assert out == "", out
    for word in words:
        assert word in errors[0], (word, errors[0])
    return errors[0]


Build = Callable[[Env, Path], list[Any]]


@dataclass(frozen=True)
class Case:
    """A bad input: ``build(env, tmp) -> argv`` and the words the error line must contain."""

    id: str
    build: Build
    words: tuple[str, ...]
    logs: bool = False
    after: Callable[[Env, Path], None] | None = None
    """An extra check after the command (e.g. that nothing was left behind)."""


def argv(*items: Any) -> Build:
    """A fixed command line; items may be callables ``f(env, tmp)`` giving a path."""
    return lambda env, tmp: [i(env, tmp) if callable(i) else i for i in items]


def E(attr: str) -> Callable[[Env, Path], Any]:  # noqa: N802 (reads as a placeholder)
    return lambda env, tmp: getattr(env, attr)


def T(name: str) -> Callable[[Env, Path], Path]:  # noqa: N802
    return lambda env, tmp: tmp / name


CASES: list[Case] = []


def case(id: str, build: Build, *words: str, logs: bool = False,  # noqa: A002
         after: Callable[[Env, Path], None] | None = None) -> None:
    CASES.append(Case(id, build, words, logs, after))


# ----------------------------------------------------------------------- usage and list

case("usage-no-command", argv(), "required", "COMMAND")
case("usage-unknown-command", argv("bogus"), "invalid choice", "bogus")
case("usage-run-no-experiment", argv("run"), "required", "experiment")
case("usage-evaluate-no-file", argv("evaluate"), "required", "file")
case("usage-bench-no-suite", argv("bench"), "required", "SUITE")
case("usage-bench-unknown-suite", argv("bench", "nosuchsuite"), "invalid choice")
case("usage-bench-batch-text", argv("bench", "precoders", "--batch", "x"), "--batch",
     "invalid int value")
case("usage-leaderboard-batch-float", argv("leaderboard", "--batch", "1.5"), "--batch", "int")
case("usage-plot-no-dir", argv("plot"), "required", "dir")
case("usage-list-unknown-option", argv("list", "--nope"), "unrecognized arguments", "--nope")
case("usage-run-seed-text", argv("run", "corpus.tiny", "--seed", "abc"), "--seed", "int")
case("usage-bench-alpha-text", argv("bench", "uplink", "--alpha", "high"), "--alpha", "float")
case("usage-run-seed-huge", argv("run", "corpus.tiny", "--seed", "99999999999999999999"),
     "--seed", "[0, 2**32 - 1]")
case("usage-run-seed-negative", argv("run", "corpus.tiny", "--seed", "-1"), "--seed",
     "[0, 2**32 - 1]")
case("usage-leaderboard-seed-negative", argv("leaderboard", "--seed", "-1"), "--seed",
     "[0, 2**32 - 1]")
case("usage-bench-seed-huge", argv("bench", "precoders", "--seed", str(2**64)), "--seed",
     "[0, 2**32 - 1]")
case("usage-evaluate-rho-text", argv("evaluate", E("temiz_npz"), "--rho", "x"), "--rho",
     "float")
case("list-unknown-name", argv("list", "nosuch.exp"), "unknown experiment or system",
     "nosuch.exp")
case("list-unknown-system", argv("list", "--system", "nope"), "--system", "nope")
case("list-unknown-experiment-of-system", argv("list", "temiz_unsup.nope"),
     "temiz_unsup.nope")

# ----------------------------------------------------------------------- run: config values


def _run(exp: str, *sets: str) -> Build:
    return lambda env, tmp: ["run", exp, *[a for s in sets for a in ("--set", s)],
                             "--out", tmp / "out"]


def _no_folder(env: Env, tmp: Path) -> None:
    assert not (tmp / "out").exists()


RUN_CASES = [
    ("unknown-experiment", ["run", "temiz_unsup.nope"], ["unknown experiment", "temiz_unsup.nope"]),
    ("unknown-profile", ["run", "temiz_unsup.baselines", "--profile", "huge"],
     ["unknown profile", "huge"]),
    ("unknown-key", _run("temiz_unsup.baselines", "nokey=1"), ["unknown config key", "nokey",
                                                              "isaclearn list"]),
    ("no-equals", _run("temiz_unsup.baselines", "snr_db"), ["key=value"]),
    ("empty-key", _run("temiz_unsup.baselines", "=1"), ["key=value"]),
    ("int-text", _run("temiz_unsup.baselines", "num_antennas=abc"), ["num_antennas", "int"]),
    ("int-exponent", _run("temiz_unsup.baselines", "batch=1e3"), ["batch=1e3", "int"]),
    ("float-text", _run("temiz_unsup.baselines", "snr_db=high"), ["snr_db=high", "float"]),
    ("float-overflow", _run("temiz_unsup.baselines", "snr_db=1e400"),
     ["snr_db=1e400", "finite", "overflows"]),
    ("float-nan", _run("temiz_unsup.baselines", "snr_db=nan"), ["snr_db", "finite"]),
    ("float-inf", _run("temiz_unsup.tradeoff", "snr_db=-inf"), ["snr_db", "finite"]),
    ("list-float-overflow", _run("temiz_unsup.tradeoff", "sdr_sinr_db=0,1e999"),
     ["sdr_sinr_db", "finite"]),
    ("bool-text", _run("qi_uplink.schemes", "augment=maybe"), ["augment", "bool"]),
    ("list-unclosed", _run("temiz_unsup.tradeoff", "rhos=[0.1,0.2"), ["rhos", "unbalanced"]),
    ("list-unopened", _run("temiz_unsup.tradeoff", "rhos=0.1,0.2]"), ["rhos", "brackets"]),
    ("list-mismatched", _run("temiz_unsup.tradeoff", "rhos=(0.1,0.2]"), ["rhos", "unbalanced"]),
    ("list-nested", _run("temiz_unsup.tradeoff", "rhos=[[0.1]]"), ["rhos", "nested"]),
    ("list-empty-item", _run("temiz_unsup.tradeoff", "rhos=0.1,,0.2"), ["rhos", "empty item"]),
    ("list-trailing-comma", _run("temiz_unsup.tradeoff", "rhos=0.1,"), ["rhos", "empty item"]),
    ("list-item-type", _run("temiz_unsup.tradeoff", "antennas=10,x"), ["antennas", "int"]),
    ("rho-out-of-range", _run("temiz_unsup.tradeoff", "rhos=0,2"), ["rhos", "[0, 1]", "2.0"]),
    ("negative-antennas", _run("temiz_unsup.baselines", "num_antennas=-4"),
     ["num_antennas", ">= 1", "-4"]),
    ("zero-users", _run("temiz_unsup.baselines", "num_users=0"), ["num_users", ">= 1"]),
    ("negative-convex-batch", _run("temiz_unsup.baselines", "convex_batch=-1"),
     ["convex_batch", ">= 0"]),
    ("unknown-variant", _run("temiz_unsup.tradeoff", "variants=foo"),
     ["unknown network variant", "foo"]),
    ("zero-batch-size", _run("temiz_unsup.tradeoff", "batch_size=0"), ["batch_size", ">= 1"]),
    ("dropout-one", _run("temiz_unsup.snr", "dropout=1"), ["dropout", "[0, 1)"]),
    ("zero-lr", _run("temiz_unsup.csi_error", "lr=0"), ["lr", "> 0"]),
    ("csi-rho", _run("temiz_unsup.csi_error", "rho=-0.1"), ["rho", "[0, 1]"]),
    ("prune-above-one", _run("temiz_unsup.compression", "prune=0,1.5"), ["prune", "[0, 1]"]),
    ("beampattern-antennas", _run("temiz_unsup.beampattern", "antennas=0"),
     ["antennas", ">= 1"]),
    ("qi-alpha", _run("qi_uplink.schemes", "alpha=1.5"), ["alpha", "[0, 1]"]),
    ("qi-zero-tx", _run("qi_uplink.runtime", "num_tx=0"), ["num_tx", ">= 1"]),
    ("qi-zero-test", _run("qi_uplink.snr", "num_test=0"), ["num_test", ">= 1"]),
    ("qi-negative-lr", _run("qi_uplink.training", "lr=-1e-3"), ["lr", "> 0"]),
    ("device-unknown", ["run", "corpus.tiny", "--device", "tpu"], ["tpu"]),
    ("set-seed-negative", _run("temiz_unsup.baselines", "seed=-1"), ["--set seed",
                                                                    "[0, 2**32 - 1]"]),
    ("set-test-seed-huge", _run("temiz_unsup.tradeoff", f"test_seed={2**40}"),
     ["--set test_seed", "[0, 2**32 - 1]"]),
    ("liu-negative-episodes", _run("liu_irs_ppo.compare", "train_episodes=-1"),
     ["train_episodes", ">= 1"]),
    ("liu-power-nan", _run("liu_irs_ppo.power", "p_max_w=nan"), ["p_max_w", "finite"]),
    ("liu-beampattern-mimo-agent", _run("liu_irs_ppo.beampattern", "agents=a3c"),
     ["agents", "a3c", "unknown"]),
    ("liu-observation-unknown", _run("liu_irs_ppo.compare", "observation=antenna"),
     ["observation", "antenna"]),
    ("liu-observation-user-mimo", _run("liu_irs_ppo.mimo_reward", "observation=user"),
     ["observation='user'", "MISO only"]),
    ("ding-zero-antennas", _run("ding_dt.vehicles", "num_antennas=0"),
     ["num_antennas", ">= 1"]),
    ("yang-unknown-method", _run("yang_som.snr", "methods=nope"), ["nope", "unknown"]),
    ("yang-zero-train-episodes", _run("yang_som.weight", "train_episodes=0"),
     ["train_episodes", ">= 1"]),
    ("yang-negative-workers", _run("yang_som.users", "workers=-1"), ["workers", ">= 0"]),
    ("yang-convergence-episodes", _run("yang_som.convergence", "episodes=0"),
     ["episodes", ">= 1"]),
    ("yang-opt-ici-unknown", _run("yang_som.weight", "opt_ici=exact"),
     ["opt_ici", "exact"]),
    ("yang-convergence-opt-ici-unknown", _run("yang_som.convergence", "opt_ici=exact"),
     ["opt_ici", "exact"]),
    ("yang-opt-ici-joint-too-large", _run("yang_som.weight", "opt_ici=joint", "num_antennas=32"),
     ["opt_ici='joint'", "toy sizes"]),
]
for _id, _argv, _words in RUN_CASES:
    case(f"run-{_id}", _argv if callable(_argv) else argv(*_argv), *_words, after=_no_folder)


# ----------------------------------------------------------------------- run: folders


def _file(name: str, text: str = "x") -> Callable[[Env, Path], Path]:
    def make(env: Env, tmp: Path) -> Path:
        (tmp / name).write_text(text)
        return tmp / name
    return make


def _folder(name: str, files: dict[str, str] | None = None) -> Callable[[Env, Path], Path]:
    def make(env: Env, tmp: Path) -> Path:
        (tmp / name).mkdir()
        for f, text in (files or {}).items():
            (tmp / name / f).write_text(text)
        return tmp / name
    return make


def _copy_run(drop: tuple[str, ...] = (), edit: dict[str, str] | None = None
              ) -> Callable[[Env, Path], Path]:
    def make(env: Env, tmp: Path) -> Path:
        out = tmp / "copy"
        shutil.copytree(env.run_dir, out)
        for f in drop:
            (out / f).unlink()
        for f, text in (edit or {}).items():
            (out / f).write_text(text)
        return out
    return make


case("out-proc", argv("run", "corpus.tiny", "--out", "/proc/isaclearn-x"), "--out",
     "/proc/isaclearn-x", "cannot create the run folder")
case("out-under-dev-null", argv("run", "corpus.tiny", "--out", "/dev/null/x"), "--out",
     "cannot create the run folder", "Not a directory")
case("out-sys", argv("run", "corpus.tiny", "--out", "/sys/isaclearn-x"), "--out",
     "cannot create the run folder")
case("out-is-a-file", argv("run", "corpus.tiny", "--out", _file("f.txt")), "exists and is "
     "not a folder")
case("out-not-empty", argv("run", "corpus.tiny", "--out", _folder("full", {"a.txt": "x"})),
     "already exists and is not empty", "--resume")
case("out-existing-run", argv("run", "corpus.tiny", "--out", E("run_dir")),
     "already exists and is not empty")
case("resume-missing", argv("run", "corpus.tiny", "--resume", "--out", T("absent")),
     "cannot resume", "does not exist", "nothing to resume",
     after=lambda env, tmp: None if not (tmp / "absent").exists() else pytest.fail("created"))
case("resume-empty", argv("run", "corpus.tiny", "--resume", "--out", _folder("empty")),
     "cannot resume", "is empty", "nothing to resume")
case("resume-not-a-run", argv("run", "corpus.tiny", "--resume", "--out",
                              _folder("notes", {"notes.txt": "mine"})), "not a run folder")
case("resume-other-config", argv("run", "corpus.tiny", "--resume", "--set", "points=1,2",
                                 "--out", _copy_run()), "cannot resume", "differs", "points")
case("resume-other-profile-seedless", argv("run", "corpus.tiny", "--resume", "--profile",
                                           "paper", "--set", "fail=true", "--out",
                                           _copy_run()), "cannot resume", "fail")
case("resume-garbage-config", argv("run", "corpus.tiny", "--resume", "--out",
                                   _copy_run(edit={"config.json": "{oops"})),
     "cannot resume", "config.json", "unreadable")
case("resume-no-progress", argv("run", "corpus.tiny", "--resume", "--out",
                                _copy_run(drop=("progress.jsonl",))),
     "progress.jsonl is missing")
case("run-rejected-inside", argv("run", "corpus.tiny", "--set", "fail=true", "--out",
                                 T("out")), "fail=true", logs=True, after=_no_folder)
case("run-model-dir-impossible", _run("temiz_unsup.tradeoff", "model_dir=/proc/isaclearn-x"),
     "model folder", "/proc/isaclearn-x", "model_dir", logs=True, after=_no_folder)
case("run-real-rejected-no-debris", argv("run", "temiz_unsup.baselines", "--set",
                                         "num_antennas=-4", "--out", T("x5")),
     "num_antennas", after=lambda env, tmp: None if not (tmp / "x5").exists()
     else pytest.fail("debris"))

# ----------------------------------------------------------------------- evaluate: temiz files


def _drop(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda d: {k: v for k, v in d.items() if k != key}


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda d: {**d, key: value}


TEMIZ_CONTENT = [
    ("missing-W", _drop("W"), ["missing key", "W"]),
    ("missing-H", _drop("H"), ["missing key", "H"]),
    ("missing-noise", _drop("noise_var"), ["missing key", "noise_var"]),
    ("H-4d", _set("H", np.ones((B, K, M, 2), complex)), ["H", "shape"]),
    ("H-1d", _set("H", np.ones(5, complex)), ["H", "shape"]),
    ("H-2d-vs-W-3d", _set("H", np.ones((K, M), complex)), ["W", "B = 3", "B = 1"]),
    ("inconsistent-B", _set("W", np.ones((B + 1, M, K), complex)), ["W", "B = 3"]),
    ("inconsistent-KM", _set("W", np.ones((B, K, M), complex)), ["W", "[B, M, K]"]),
    ("theta-batch", _set("theta", np.zeros((B + 1, 2))), ["theta", "B = 3"]),
    ("H-nan", _set("H", np.full((B, K, M), np.nan)), ["H", "NaN"]),
    ("W-inf", _set("W", np.full((B, M, K), np.inf)), ["W", "NaN or Inf"]),
    ("theta-inf", _set("theta", np.array([0.1, np.inf])), ["theta", "Inf"]),
    ("theta-degrees", _set("theta", np.array([-10.0, 25.0])), ["theta", "radians",
                                                              "deg2rad"]),
    ("theta-complex", _set("theta", np.array([0.1j, 0.2])), ["theta", "real"]),
    ("noise-negative", _set("noise_var", -1.0), ["noise_var", "positive"]),
    ("noise-vector", _set("noise_var", np.array([0.1, 0.2])), ["noise_var", "scalar"]),
    ("noise-inf", _set("noise_var", np.inf), ["noise_var", "NaN or Inf"]),
    ("radar-snr-zero", _set("radar_snr", 0.0), ["radar_snr", "positive"]),
    ("power-negative", _set("power", -2.0), ["power", "positive"]),
    ("num_rx-fraction", _set("num_rx", 1.5), ["num_rx", "integer"]),
    ("num_rx-zero", _set("num_rx", 0), ["num_rx", ">= 1"]),
    ("num_rx-1e30", _set("num_rx", 1e30), ["num_rx", "at most 1000000"]),
    ("num_rx-2pow45", _set("num_rx", np.int64(2**45)), ["num_rx", "at most 1000000"]),
    ("num_symbols-1e30", _set("num_symbols", 1e30), ["num_symbols", "at most"]),
    ("num_symbols-negative", _set("num_symbols", -3), ["num_symbols", ">= 1"]),
    ("num_symbols-zero", _set("num_symbols", 0), ["num_symbols", ">= 1"]),
    ("noise-text", _set("noise_var", "0.01"), ["noise_var", "numeric"]),
    ("H-object-array", _set("H", np.array([1, "a"], dtype=object)), ["H", "numeric"]),
]
for _id, _mutate, _words in TEMIZ_CONTENT:
    for _suffix in (".npz", ".mat"):
        def _build(env: Env, tmp: Path, mutate: Any = _mutate, suffix: str = _suffix
                   ) -> list[Any]:
            path = save(tmp / f"design{suffix}", mutate(temiz_arrays()))
            return ["evaluate", path, "--json", tmp / "scores.json"]
        case(f"temiz-{_id}{_suffix}", _build, f"design{_suffix}", *_words,
             after=lambda env, tmp: None if not (tmp / "scores.json").exists()
             else pytest.fail("wrote json"))

# npz-only content (NumPy types that MATLAB files cannot hold)
case("temiz-num_rx-bool.npz", lambda env, tmp: ["evaluate", save(
    tmp / "d.npz", _set("num_rx", np.array(True))(temiz_arrays()))], "num_rx", "numeric")
case("temiz-H-empty.npz", lambda env, tmp: ["evaluate", save(
    tmp / "d.npz", _set("H", np.ones((0, K, M), complex))(temiz_arrays()))], "H", "empty")
# MATLAB-only content
case("temiz-theta-ambiguous-column.mat", lambda env, tmp: ["evaluate", save(
    tmp / "d.mat", _set("theta", np.deg2rad([[-10.0], [25.0], [40.0]]))(temiz_arrays()))],
    "theta", "(3, 1)", "ambiguous", "B = 3", "1xT row", ".npz")
case("temiz-cell.mat", lambda env, tmp: ["evaluate", save(
    tmp / "d.mat", _set("noise_var", np.array([1.0, "x"], dtype=object))(temiz_arrays()))],
    "noise_var", "numeric")
case("temiz-text.mat", lambda env, tmp: ["evaluate", save(
    tmp / "d.mat", _set("radar_snr", "high")(temiz_arrays()))], "radar_snr", "got text")
case("temiz-struct.mat", lambda env, tmp: ["evaluate", save(
    tmp / "d.mat", _set("radar_snr", {"value": 1.0})(temiz_arrays()))], "radar_snr",
    "numeric")


def _bytes(name: str, content: bytes) -> Callable[[Env, Path], Path]:
    def make(env: Env, tmp: Path) -> Path:
        (tmp / name).write_bytes(content)
        return tmp / name
    return make


def _npy_as_npz(env: Env, tmp: Path) -> Path:
    np.save(tmp / "a.npy", np.ones(3))
    (tmp / "a.npy").rename(tmp / "a.npz")
    return tmp / "a.npz"


def _zip_with_text(env: Env, tmp: Path) -> Path:
    import zipfile

    path = save(tmp / "z.npz", _drop("H")(temiz_arrays()))
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("H.npy", b"not an array" * 4)
    return path


case("file-missing", argv("evaluate", T("absent.mat")), "absent.mat", "no such file")
case("file-is-a-folder", argv("evaluate", _folder("dir.npz")), "dir.npz", "not a file")
case("file-unsupported-suffix", argv("evaluate", _file("design.txt", "H = 1")),
     "unsupported file type", ".txt")
case("file-text-renamed-npz", argv("evaluate", _file("text.npz", "hello\n" * 20)),
     "text.npz", "not a valid .npz", "zip")
case("file-npy-renamed-npz", argv("evaluate", _npy_as_npz), "not a valid .npz", ".npy")
case("file-empty-npz", argv("evaluate", _bytes("e.npz", b"")), "not a valid .npz")
case("file-zip-member-not-npy", argv("evaluate", _zip_with_text), "H", "numeric")
case("file-garbage-mat", argv("evaluate", _bytes("g.mat", b"garbage" * 40)),
     "cannot read as MATLAB")
case("file-empty-mat", argv("evaluate", _bytes("e.mat", b"")), "cannot read")
case("file-mat-v73", argv("evaluate", _bytes(
    "v73.mat", b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(512) + b"\x89HDF\r\n\x1a\n")),
    "v7.3", "-v7")

# ----------------------------------------------------------------------- evaluate: options

case("evaluate-unknown-system", argv("evaluate", E("temiz_npz"), "--system", "nope"),
     "--system", "nope")
case("evaluate-wrong-system", argv("evaluate", E("temiz_npz"), "--system", "qi_uplink"),
     "missing key", "h", "r_t")
case("evaluate-json-missing-folder", argv("evaluate", E("temiz_npz"), "--json",
                                          T("nope/x.json")), "--json", "does not exist")
case("evaluate-json-is-folder", argv("evaluate", E("temiz_npz"), "--json", T("")),
     "--json", "is a folder")
case("evaluate-json-proc", argv("evaluate", E("temiz_npz"), "--json", "/proc/x.json"),
     "--json", "cannot write")
case("evaluate-json-under-file", argv("evaluate", E("temiz_npz"), "--json", "/dev/null/x.json"),
     "--json", "is not a folder")
case("evaluate-out-suffix", argv("evaluate", E("temiz_npz"), "--out", T("d.txt")),
     "--out", "unsupported file type")
case("evaluate-out-missing-folder", argv("evaluate", E("temiz_npz"), "--out", T("no/d.npz")),
     "--out", "does not exist")
case("evaluate-unknown-designer", argv("evaluate", E("temiz_no_w"), "--designer", "nosuch"),
     "unknown designer nosuch", "mrt")
case("evaluate-rho-without-checkpoint", argv("evaluate", E("temiz_npz"), "--rho", "0.5"),
     "--rho", "--checkpoint")
case("evaluate-rho-foreign-system", argv("evaluate", E("qi_npz"), "--system", "qi_uplink",
                                         "--checkpoint", E("qi_net"), "--rho", "0.5"),
     "--rho", "does not apply", "qi_uplink")
case("evaluate-rho-above-one", argv("evaluate", E("temiz_no_w"), "--checkpoint", E("cond"),
                                    "--rho", "2"), "--rho", "[0, 1]", "2")
case("evaluate-rho-negative", argv("evaluate", E("temiz_no_w"), "--checkpoint", E("cond"),
                                   "--rho", "-0.1"), "--rho", "[0, 1]")
case("evaluate-rho-nan", argv("evaluate", E("temiz_no_w"), "--checkpoint", E("cond"),
                              "--rho", "nan"), "--rho", "nan")
case("checkpoint-missing", argv("evaluate", E("temiz_no_w"), "--checkpoint", T("none")),
     "none", "does not exist")
case("checkpoint-other-M", argv("evaluate", E("temiz_no_w"), "--checkpoint", E("other_m")),
     f"M = {M + 2}", f"M = {M}")
case("checkpoint-tampered", argv("evaluate", E("temiz_no_w"), "--checkpoint", E("tampered")),
     "tampered", "SHA-256")
case("checkpoint-garbage-json", argv("evaluate", E("temiz_no_w"), "--checkpoint",
                                     E("garbage_json")), "garbage", "not valid JSON")
case("checkpoint-no-tensors", argv("evaluate", E("temiz_no_w"), "--checkpoint",
                                   E("no_tensors")), "no_tensors", "does not exist")
case("checkpoint-foreign-kind", argv("evaluate", E("temiz_no_w"), "--checkpoint", E("qi_net")),
     "uplink_net", "not a precoder")
case("checkpoint-temiz-for-qi", argv("evaluate", E("qi_npz"), "--system", "qi_uplink",
                                     "--checkpoint", E("fixed")), "fixed", "'precoder'")
case("checkpoint-is-folder", argv("evaluate", E("temiz_no_w"), "--checkpoint", _folder("ckd")),
     "ckd", "does not exist")

# ----------------------------------------------------------------------- evaluate: qi files

QI_CONTENT = [
    ("missing-h", _drop("h"), ["missing key", "h"]),
    ("missing-s", _drop("s"), ["missing key", "s"]),
    ("r_t-shape", _set("r_t", np.ones((QB, QT, QT - 1), complex)), ["r_t", "shape"]),
    ("p-negative", _set("p", -np.ones((QB, QK))), ["p", "positive"]),
    ("p-batch", _set("p", np.ones((QB + 1, QK))), ["p", "B = 3"]),
    ("power_s-zero", _set("power_s", 0.0), ["power_s", "positive"]),
    ("noise-inf", _set("noise_var", np.inf), ["noise_var", "NaN or Inf"]),
    ("num_symbols-2pow45", _set("num_symbols", np.int64(2**45)), ["num_symbols", "at most"]),
    ("num_symbols-1e30", _set("num_symbols", 1e30), ["num_symbols", "at most"]),
    ("num_symbols-fraction", _set("num_symbols", 2.5), ["num_symbols", "integer"]),
    ("num_symbols-below-M", _set("num_symbols", QT - 1), ["num_symbols"]),
    ("alpha-above-one", _set("alpha", 1.5), ["alpha", "[0, 1]"]),
    ("h_est-shape", _set("h_est", np.ones((QB, QR, QK + 1), complex)), ["h_est"]),
    ("s-length", lambda d: {**d, "s": d["s"][:, :QL - 1]}, ["num_symbols"]),
    ("w-shape", _set("w", np.ones((QB, QR + 1, QK), complex)), ["w", "shape"]),
    ("h-text", _set("h", "channel"), ["h", "numeric"]),
]
for _id, _mutate, _words in QI_CONTENT:
    for _suffix in (".npz", ".mat"):
        if _suffix == ".mat" and _id in ("h-text",):
            continue

        def _qbuild(env: Env, tmp: Path, mutate: Any = _mutate, suffix: str = _suffix
                    ) -> list[Any]:
            path = save(tmp / f"qi{suffix}", mutate(qi_arrays()))
            return ["evaluate", path, "--system", "qi_uplink"]
        case(f"qi-{_id}{_suffix}", _qbuild, *_words)

# ----------------------------------------------------------------------- bench

BENCH_CASES = [
    ("precoders-batch-0", ["precoders", "--batch", "0"], ["--batch", ">= 1"]),
    ("precoders-antennas-0", ["precoders", "--antennas", "0"], ["--antennas", ">= 1"]),
    ("precoders-users-negative", ["precoders", "--users", "-1"], ["--users", ">= 1"]),
    ("precoders-repeat-0", ["precoders", "--repeat", "0"], ["--repeat", ">= 1"]),
    ("precoders-slow-batch-0", ["precoders", "--slow-batch", "0"], ["--slow-batch"]),
    ("precoders-convex-negative", ["precoders", "--convex-batch", "-1"], ["--convex-batch"]),
    ("precoders-max-networks", ["precoders", "--max-networks", "-1"], ["--max-networks"]),
    ("precoders-batch-huge", ["precoders", "--batch", str(10**11)], ["--batch", "at most"]),
    ("uplink-batch-huge", ["uplink", "--batch", str(10**11)], ["--batch", "at most"]),
    ("rl-batch-0", ["rl", "--batch", "0"], ["--batches", ">= 1"]),
    ("precoders-snr-nan", ["precoders", "--snr-db", "nan"], ["--snr-db", "finite"]),
    ("precoders-snr-inf", ["precoders", "--snr-db", "inf"], ["--snr-db", "finite"]),
    ("precoders-rho", ["precoders", "--rho", "2"], ["--rho", "[0, 1]"]),
    ("precoders-unknown-designer", ["precoders", "--batch", "4", "--runs", "", "--designers",
                                    "nope"], ["--designers", "nope", "mrt"]),
    ("precoders-no-designer", ["precoders", "--batch", "4", "--runs", "", "--designers", ","],
     ["--designers", "no designer"]),
    ("precoders-device", ["precoders", "--device", "tpu"], ["tpu"]),
    ("precoders-json-missing-folder", ["precoders", "--json", "/nonexistent-dir/b.json"],
     ["--json", "does not exist"]),
    ("uplink-cvxpy-negative", ["uplink", "--cvxpy-batch", "-1"], ["--cvxpy-batch", ">= 0"]),
    ("uplink-batch-0", ["uplink", "--batch", "0"], ["--batch", ">= 1"]),
    ("uplink-alpha", ["uplink", "--alpha", "2"], ["--alpha", "[0, 1]"]),
    ("uplink-alpha-nan", ["uplink", "--alpha", "nan"], ["--alpha", "[0, 1]"]),
    ("uplink-tx-0", ["uplink", "--tx", "0"], ["--tx", ">= 1"]),
    ("uplink-rx-0", ["uplink", "--rx", "0"], ["--rx", ">= 1"]),
    ("uplink-users-0", ["uplink", "--users", "0"], ["--users", ">= 1"]),
    ("uplink-repeat-0", ["uplink", "--repeat", "0"], ["--repeat", ">= 1"]),
    ("uplink-train-epochs-0", ["uplink", "--train-epochs", "0"], ["--train-epochs", ">= 1"]),
    ("uplink-json-proc", ["uplink", "--json", "/proc/x.json"], ["--json", "cannot write"]),
]
for _id, _args, _words in BENCH_CASES:
    case(f"bench-{_id}", argv("bench", *_args), *_words)

case("bench-precoders-checkpoint-other-M", argv("bench", "precoders", "--checkpoint",
                                                E("bench_other")),
     "--checkpoint", "M = 6", "M = 10", "--antennas")
case("bench-precoders-checkpoint-missing", argv("bench", "precoders", "--checkpoint",
                                                T("none")), "none", "does not exist")
case("bench-uplink-checkpoint-missing", argv("bench", "uplink", "--checkpoint", T("none")),
     "none", "does not exist")
case("bench-uplink-checkpoint-other-sizes", argv("bench", "uplink", "--checkpoint",
                                                 E("qi_net")),
     "--checkpoint", "(4, 4, 2)", "(16, 16, 5)", "--tx")
case("bench-uplink-checkpoint-temiz", argv("bench", "uplink", "--checkpoint", E("fixed")),
     "fixed", "'precoder'")

# ----------------------------------------------------------------------- plot

case("plot-missing", argv("plot", T("absent")), "absent", "no such run folder")
case("plot-file", argv("plot", _file("f.txt")), "f.txt", "no such run folder")
case("plot-no-config", argv("plot", _folder("bare", {"results.csv": "key,a\nx,1\n"})),
     "config.json is missing")
case("plot-garbage-config", argv("plot", _copy_run(edit={"config.json": "[1, 2"})),
     "config.json", "cannot read")
case("plot-config-not-object", argv("plot", _copy_run(edit={"config.json": "[1, 2]"})),
     "config.json", "cannot read")
case("plot-no-results", argv("plot", _copy_run(drop=("results.csv",))), "results.csv",
     "no such file")
case("plot-empty-results", argv("plot", _copy_run(edit={"results.csv": "key,method\n"})),
     "no result rows")
def _binary_results(env: Env, tmp: Path) -> Path:
    out = _copy_run()(env, tmp)
    (out / "results.csv").write_bytes(b"\xff\xfe\x00garbage")
    return out


case("plot-binary-results", argv("plot", _binary_results), "results.csv", "cannot read")
case("plot-nothing-drawable", argv("plot", _copy_run(edit={
    "results.csv": "key,method,label\np1,a,x\n"})), "no figure could be drawn", logs=True)

# ----------------------------------------------------------------------- leaderboard

LEADERBOARD_CASES = [
    ("unknown-system", ["--system", "nope"], ["--system", "nope"]),
    ("batch-0", ["--batch", "0"], ["--batch", "[1, 1000000]"]),
    ("batch-huge", ["--batch", str(10**11)], ["--batch", "[1, 1000000]", str(10**11)]),
    ("slow-batch-negative", ["--slow-batch", "-1"], ["--slow-batch", ">= 0"]),
    ("unknown-designer", ["--batch", "2", "--runs", "", "--designers", "nope"],
     ["--designers", "nope"]),
    ("json-missing-folder", ["--json", "/nonexistent-dir/l.json"], ["--json",
                                                                    "does not exist"]),
    ("csv-proc", ["--csv", "/proc/l.csv"], ["--csv", "cannot write"]),
    ("rho-foreign-system", ["--system", "qi_uplink", "--rho", "0.5"], ["--rho",
                                                                      "does not apply"]),
]
for _id, _args, _words in LEADERBOARD_CASES:
    case(f"leaderboard-{_id}", argv("leaderboard", *_args), *_words)

case("leaderboard-checkpoint-missing", argv("leaderboard", "--batch", "2", "--runs", "",
                                            "--checkpoint", T("none")), "none",
     "does not exist")
case("leaderboard-checkpoint-other-M", argv("leaderboard", "--batch", "2", "--runs", "",
                                            "--checkpoint", E("bench_other")),
     "--checkpoint", "does not fit", "M = 6", "M = 10")
case("leaderboard-checkpoint-rho", argv("leaderboard", "--batch", "2", "--runs", "",
                                        "--checkpoint", E("cond"), "--rho", "2"),
     "--rho", "[0, 1]")
case("leaderboard-checkpoint-foreign", argv("leaderboard", "--system", "qi_uplink", "--batch",
                                            "2", "--runs", "", "--checkpoint", E("fixed")),
     "fixed", "'precoder'")


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input(c: Case, env: Env, tmp_path: Path,
                   capsys: pytest.CaptureFixture[str]) -> None:
    args = c.build(env, tmp_path)
    capsys.readouterr()
    code, out, err = run_cli(args, capsys)
    assert_one_line_error(code, out, err, list(c.words), logs=c.logs)
    if c.after is not None:
        c.after(env, tmp_path)


def test_corpus_size() -> None:
    """The acceptance of issue 13: at least 100 bad inputs."""
    assert len(CASES) >= 100
    assert len({c.id for c in CASES}) == len(CASES)


# ----------------------------------------------------------------------- documented behaviour


def test_documented_rho_of_each_network(env: Env, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """``--rho`` feeds a ρ-conditioned network and is ignored, with a word, by a per-ρ one;
    the output says which ρ each network runs at (also in the JSON report)."""
    report = tmp_path / "r.json"
    code, out, err = run_cli(["evaluate", env.temiz_no_w, "--checkpoint", env.cond,
                              "--checkpoint", env.fixed, "--rho", "0.7", "--json", report],
                             capsys)
    assert code == 0, err
    assert "learned:cond: rho-conditioned network, run at rho = 0.7 (--rho)" in out
    assert ("learned:fixed: per-rho network trained for rho = 0.3; --rho 0.7 is ignored"
            in out)
    designs = json.loads(report.read_text())["designs"]
    assert "rho = 0.7" in designs["learned:cond"]["note"]
    assert "ignored" in designs["learned:fixed"]["note"]
    code, out, err = run_cli(["evaluate", env.temiz_no_w, "--checkpoint", env.cond,
                              "--checkpoint", env.fixed], capsys)
    assert code == 0, err
    assert "run at rho = 0.3 (its stored value" in out
    assert "trained for rho = 0.3" in out and "ignored" not in out


def test_documented_rho_designs_differ(env: Env) -> None:
    """The ρ a conditioned network is told is the one it uses; a per-ρ network's design does
    not depend on ``--rho`` and keeps its trained ρ in the design's info."""
    from isaclearn.experiments.io import load_problem_file
    from isaclearn.systems.base import get_system
    from isaclearn.systems.temiz_unsup.learned import learned_designers

    problem, _ = load_problem_file(env.temiz_no_w, get_system("temiz_unsup"),
                                   require_design=False)
    a = next(iter(learned_designers([env.cond], rho=0.1).values())).design(problem)
    b = next(iter(learned_designers([env.cond], rho=0.9).values())).design(problem)
    assert a.info["rho"] == 0.1 and b.info["rho"] == 0.9
    assert not torch.allclose(a.w, b.w)
    c = next(iter(learned_designers([env.fixed], rho=0.9).values())).design(problem)
    d = next(iter(learned_designers([env.fixed]).values())).design(problem)
    assert c.info["rho"] == 0.3 and torch.equal(c.w, d.w)


@pytest.mark.parametrize(("suffix", "theta", "targets"), [
    (".npz", np.deg2rad([[-10.0], [25.0], [40.0]]), 1),  # [B, 1]: one angle per instance
    (".mat", np.deg2rad([[-10.0], [25.0]]), 2),  # a 2x1 column with B = 3: shared angles
    (".mat", np.deg2rad([[-10.0, 25.0]]), 2),  # a 1xT row: shared
    (".npz", np.deg2rad([-10.0, 25.0, 40.0]), 3),  # 1-D: shared, even with T = B
])
def test_documented_theta_layouts(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  suffix: str, theta: np.ndarray, targets: int) -> None:
    path = save(tmp_path / f"d{suffix}", {**temiz_arrays(), "theta": theta})
    code, out, err = run_cli(["evaluate", path], capsys)
    assert code == 0, err
    assert f"num_targets = {targets}" in out


def test_documented_uplink_cvxpy_batch_zero(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """``--cvxpy-batch 0`` leaves the CVXPY-backed scheme out (as ``--convex-batch 0`` does
    for the precoders)."""
    report = tmp_path / "u.json"
    code, out, err = run_cli(["bench", "uplink", "--cvxpy-batch", 0, "--batch", 4, "--tx", 4,
                              "--rx", 4, "--users", 2, "--train-epochs", 1, "--repeat", 1,
                              "--json", report], capsys)
    assert code == 0, err
    names = [r["designer"] for r in json.loads(report.read_text())]
    assert "traditional_cvxpy" not in names and "isacnn" in names and "zfbf" in names


def test_documented_found_networks_of_other_sizes_are_skipped(
        env: Env, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Networks *found* under --runs that do not fit are skipped with a logged line (an
    explicit --checkpoint that does not fit is an error, see the corpus)."""
    code, out, err = run_cli(["bench", "precoders", "--batch", 4, "--slow-batch", 1,
                              "--convex-batch", 0, "--repeat", 1, "--designers", "mrt",
                              "--runs", env.root / "bench_nets"], capsys)
    assert code == 0, err
    assert "skipped 1 network(s)" in err and "M = 6, K = 10" in err
    code, out, err = run_cli(["leaderboard", "--batch", 2, "--slow-batch", 0, "--designers",
                              "mrt", "--runs", env.root / "bench_nets"], capsys)
    assert code == 0, err
    assert "skipped" in out and "M = 6" in out


def test_documented_rejected_run_leaves_nothing(env: Env, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A fresh run rejected before its first sweep point prints no resume hint and leaves no
    folder, so the corrected command with the same --out runs."""
    out_dir = tmp_path / "x5"
    code, _, err = run_cli(["run", "corpus.tiny", "--set", "fail=true", "--out", out_dir],
                           capsys)
    assert code == 2 and "--resume" not in err and not out_dir.exists()
    code, _, err = run_cli(["run", "corpus.tiny", "--out", out_dir], capsys)
    assert code == 0, err
    assert (out_dir / "results.csv").is_file()


def test_documented_list_experiment_fields(env: Env, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    """`isaclearn list EXPERIMENT` prints every config field with type, default, profile
    values and its docstring; `run --help` points there."""
    code, out, _ = run_cli(["list", "temiz_unsup.tradeoff"], capsys)
    assert code == 0
    assert "rhos: tuple[float, ...] = 0.0,0.1,0.2" in out and "(quick: 0.0,0.5,1.0)" in out
    assert "Trade-off weights" in out
    assert "num_users: int = 10" in out and "Users ``K``." in out
    code, out, _ = run_cli(["list", "corpus.tiny"], capsys)
    assert code == 0 and "fail: bool = false" in out and "Reject the config" in out
    code, out, _ = run_cli(["run", "--help"], capsys)
    assert code == 0 and "isaclearn list EXPERIMENT" in " ".join(out.split())


def test_documented_leaderboard_rho_without_networks(capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    code, out, err = run_cli(["leaderboard", "--batch", 2, "--slow-batch", 0, "--runs", "",
                              "--designers", "mrt", "--rho", "0.5"], capsys)
    assert code == 0, err
    assert "--rho ignored: no trained network was given or found" in out


@pytest.mark.parametrize("error", [MemoryError(), RuntimeError(
    "[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory: you tried "
    "to allocate 4000000000000 bytes.")], ids=["MemoryError", "torch-allocator"])
def test_out_of_memory_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str],
                                   error: BaseException) -> None:
    """A size too large for the machine (e.g. a huge --set) ends in one line, not a
    traceback."""
    from isaclearn.experiments import runner

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(runner, "run_experiment", boom)
    code, out, err = run_cli(["run", "corpus.tiny"], capsys)
    assert_one_line_error(code, out, err, ["out of memory", "reduce the sizes"])


def test_other_runtime_errors_are_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only out-of-memory is turned into a user error: a bug still raises."""
    from isaclearn.experiments import runner

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(runner, "run_experiment", boom)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["run", "corpus.tiny"])


def test_documented_zero_precoder_has_infinite_crb(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A zero precoder gives no information on the angles: its exact sum CRB is +inf (as the
    approximate one says), not NaN; the JSON report (strict JSON) holds null for it."""
    data = temiz_arrays()
    data["W"] = np.zeros_like(data["W"])
    report = tmp_path / "z.json"
    code, out, err = run_cli(["evaluate", save(tmp_path / "zero.npz", data), "--json", report],
                             capsys)
    assert code == 0, err
    line = next(s for s in out.splitlines() if s.startswith("sum_crb "))
    assert line.split()[1] == "inf" and "nan" not in line
    got = json.loads(report.read_text())
    assert got["per_instance"]["sum_crb"] == [None] * B
