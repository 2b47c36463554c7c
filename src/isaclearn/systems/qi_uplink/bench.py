"""Speed benchmark of the qi_uplink designers, for ``isaclearn bench uplink``.

Side by side in one process: ISACNN (batched inference including the EVD pre-processing and the
recovery of eqs. 31–32), the Average, ZFBF, traditional (batched KKT backend and CVXPY backend)
schemes and the optimality reference, on the same batch of the Table II scenario. Ratios, not
absolute times, are meant to be compared across machines.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from isaclearn.core.errors import ConfigError
from isaclearn.core.random import make_generator
from isaclearn.learn.isacnn import (
    UPLINK_TRAIN_CONFIG,
    LearnedUplink,
    UplinkNetConfig,
    build_uplink_network,
    train_uplink,
)
from isaclearn.solvers.uplink import (
    ZFBF,
    Average,
    OptimalityReference,
    Traditional,
)
from isaclearn.systems.base import MAX_INSTANCES, BenchSuite
from isaclearn.systems.qi_uplink.evaluation import evaluate, make_scenario
from isaclearn.systems.toolkit import finite_mean, time_designer

DEFAULT_DESIGNERS = ("isacnn", "average", "zfbf", "traditional", "traditional_cvxpy",
                     "reference")


def bench_uplink(
    batch: int = 500,
    *,
    designers: tuple[str, ...] = DEFAULT_DESIGNERS,
    model: Any = None,
    train_samples: int = 2000,
    train_epochs: int = 20,
    num_cvxpy: int = 3,
    repeats: int = 3,
    seed: int = 0,
    device: str = "cpu",
    **scenario: Any,
) -> list[dict[str, Any]]:
    """Time each designer on one batch and report its mean WSNR.

    Parameters
    ----------
    batch : int
        Test instances (the batched designers process them at once).
    designers : tuple of str
        Among ``isacnn``, ``average``, ``zfbf``, ``traditional``, ``traditional_cvxpy``,
        ``reference``.
    model : IsacNN or None
        A trained network; ``None`` trains one quickly (``train_samples`` instances,
        ``train_epochs`` epochs) so that its WSNR is meaningful (the training is not timed).
    num_cvxpy : int
        Instances (the first ones, at most ``batch``) given to the CVXPY-backed traditional
        scheme (one CVXPY solve per instance and SCA step; timed per instance).
    repeats : int
        Timing repetitions for the fast designers (minimum reported).
    seed : int
        Seed of the instances and the network.
    device : str
        Torch device of the instances and the network (CVXPY always runs on the CPU).
    **scenario
        Overrides of :func:`~isaclearn.systems.qi_uplink.evaluation.make_scenario`.

    Returns
    -------
    list of dict
        One row per designer: ``designer``, ``seconds_per_instance``, ``wsnr_mean``, ``instances``
        (instances timed), ``ratio_to_isacnn`` (when ISACNN was benchmarked).

    Raises
    ------
    ConfigError
        An unknown designer, ``batch < 1``, ``num_cvxpy < 1`` while ``traditional_cvxpy`` is
        timed, or a scenario override out of range.
    """
    unknown = [d for d in designers if d not in DEFAULT_DESIGNERS]
    if unknown:
        raise ConfigError(f"unknown designer {unknown[0]!r}; choose from "
                          f"{', '.join(DEFAULT_DESIGNERS)}")
    if batch < 1:
        raise ConfigError(f"batch must be >= 1, got {batch}")
    if "traditional_cvxpy" in designers and num_cvxpy < 1:
        raise ConfigError(f"num_cvxpy must be >= 1 when traditional_cvxpy is timed, got "
                          f"{num_cvxpy}")
    sc = make_scenario(**scenario)
    te = sc.sample(batch, generator=make_generator(1000 * seed + 3)).to(device)
    if "isacnn" in designers and model is None:
        tr = sc.sample(train_samples, generator=make_generator(1000 * seed + 1))
        va = sc.sample(max(train_samples // 4, 2), generator=make_generator(1000 * seed + 2))
        model = build_uplink_network(UplinkNetConfig(num_tx=sc.num_tx, num_rx=sc.num_rx,
                                                     num_users=sc.num_users, seed=seed))
        train_uplink(model, tr, va, dataclasses.replace(UPLINK_TRAIN_CONFIG,
                                                        max_epochs=train_epochs, seed=seed))
    if model is not None:
        model = model.to(device)
    table: dict[str, Any] = {
        "isacnn": lambda: LearnedUplink(model),
        "average": Average,
        "zfbf": ZFBF,
        "traditional": Traditional,
        "traditional_cvxpy": lambda: Traditional(backend="cvxpy"),
        "reference": OptimalityReference,
    }
    rows: list[dict[str, Any]] = []
    for name in designers:
        if name not in table:
            raise ConfigError(f"unknown designer {name!r}; choose from {', '.join(table)}")
        des = table[name]()
        prob = te.subset(slice(0, num_cvxpy)) if name == "traditional_cvxpy" else te
        slow = name in ("traditional_cvxpy", "reference", "traditional")
        design, sec = time_designer(des, prob, repeat=1 if slow else max(repeats, 1),
                                    warmup_instances=1 if slow else None)
        with torch.no_grad():
            w = finite_mean(evaluate(prob, design)["wsnr"])
        rows.append({"designer": name, "instances": prob.batch_size,
                     "seconds_per_instance": sec, "wsnr_mean": w})
    base = next((r for r in rows if r["designer"] == "isacnn"), None)
    if base is not None:
        for r in rows:
            r["ratio_to_isacnn"] = r["seconds_per_instance"] / base["seconds_per_instance"]
    return rows


# ---------------------------------------------------------------------------------------------
# command-line adapter: the ``uplink`` suite of ``isaclearn bench``
# ---------------------------------------------------------------------------------------------

UPLINK_BENCH_COLUMNS = ["designer", "instances", "seconds_per_instance", "ratio_to_isacnn",
                        "wsnr_mean"]
"""Row fields printed by ``isaclearn bench uplink``."""


def add_uplink_bench_arguments(parser: Any) -> None:
    """Options of ``isaclearn bench uplink`` (an :class:`argparse.ArgumentParser`)."""
    parser.add_argument("--batch", type=int, default=500, help="test instances (default 500)")
    parser.add_argument("--tx", type=int, default=16, help="transmit antennas N_t (default 16)")
    parser.add_argument("--rx", type=int, default=16, help="receive antennas N_r (default 16)")
    parser.add_argument("--users", type=int, default=5, help="users K (default 5)")
    parser.add_argument("--alpha", type=float, default=0.5, help="sensing weight (default 0.5)")
    parser.add_argument("--cvxpy-batch", type=int, default=3,
                        help="instances for the CVXPY-backed traditional scheme (default 3; 0 "
                             "leaves it out)")
    parser.add_argument("--train-epochs", type=int, default=20,
                        help="epochs of the quick ISACNN training before timing (default 20)")
    parser.add_argument("--checkpoint", default=None,
                        help="trained ISACNN (checkpoint stem or its .safetensors) to time "
                             "instead of a quick one")
    parser.add_argument("--repeat", type=int, default=3, help="timing repetitions (default 3)")


def check_uplink_options(options: Any) -> None:
    """Raise :class:`ConfigError` naming the first option of ``isaclearn bench uplink`` out of
    range: ``--batch`` (at most :data:`~isaclearn.systems.base.MAX_INSTANCES`), ``--tx``,
    ``--rx``, ``--users``, ``--train-epochs``, ``--repeat`` must be >= 1, ``--cvxpy-batch``
    >= 0 (0 leaves the CVXPY scheme out; more than ``--batch`` means all), ``--alpha`` in
    [0, 1]."""
    for name in ("batch", "tx", "rx", "users", "train_epochs", "repeat"):
        value = getattr(options, name)
        if value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if options.batch > MAX_INSTANCES:
        raise ConfigError(f"--batch must be at most {MAX_INSTANCES}, got {options.batch}")
    if options.cvxpy_batch < 0:
        raise ConfigError(f"--cvxpy-batch must be >= 0 (0 leaves traditional_cvxpy out), got "
                          f"{options.cvxpy_batch}")
    if not 0.0 <= options.alpha <= 1.0:
        raise ConfigError(f"--alpha must be in [0, 1], got {options.alpha}")


def run_uplink_bench(options: Any, log: Any = None) -> list[dict[str, Any]]:
    """``run(options, log)`` of the ``uplink`` bench suite: :func:`bench_uplink` with the
    parsed options of :func:`add_uplink_bench_arguments`."""
    from isaclearn.learn.isacnn import load_uplink_net

    check_uplink_options(options)
    model = load_uplink_net(options.checkpoint) if getattr(options, "checkpoint", None) else None
    if model is not None:
        spec = model.spec
        have = (spec.num_tx, spec.num_rx, spec.num_users)
        want = (options.tx, options.rx, options.users)
        if have != want:
            raise ConfigError(
                f"--checkpoint {options.checkpoint}: the network is for (N_t, N_r, K) = {have}, "
                f"the benchmark uses {want} (--tx, --rx, --users); give those sizes or another "
                f"network")
    designers: tuple[str, ...] = DEFAULT_DESIGNERS
    if options.cvxpy_batch == 0:
        designers = tuple(d for d in designers if d != "traditional_cvxpy")
    if log is not None:
        log(f"uplink bench: batch {options.batch}, N_t={options.tx}, N_r={options.rx}, "
            f"K={options.users}, alpha={options.alpha}"
            + ("" if model is not None else f", ISACNN trained {options.train_epochs} epochs"))
    return bench_uplink(options.batch, designers=designers, model=model,
                        train_epochs=options.train_epochs,
                        num_cvxpy=options.cvxpy_batch, repeats=options.repeat,
                        num_tx=options.tx, num_rx=options.rx, num_users=options.users,
                        alpha=options.alpha, device=getattr(options, "device", None) or "cpu",
                        num_symbols=max(20, options.tx))


UPLINK_SUITE = BenchSuite(
    name="uplink",
    description="qi_uplink: ISACNN vs Average/ZFBF/traditional (KKT, CVXPY)/reference, "
                "time per instance and WSNR",
    add_arguments=add_uplink_bench_arguments,
    run=run_uplink_bench,
    columns=UPLINK_BENCH_COLUMNS,
)
