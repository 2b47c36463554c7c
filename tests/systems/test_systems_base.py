"""The experiment registry and config handling of isaclearn.systems.base."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from isaclearn.core import ConfigError
from isaclearn.systems.base import ExperimentSpec, MemoryContext, get_experiment, set_field


@dataclass
class _Cfg:
    n: int = 3
    x: float = 0.5
    flag: bool = False
    name: str = "a"
    grid: tuple[float, ...] = field(default_factory=lambda: (1.0, 2.0))
    maybe: float | None = None


def _spec() -> ExperimentSpec:
    return ExperimentSpec(name="dummy.exp", fn=lambda cfg, ctx: {}, config_cls=_Cfg,
                          profiles={"quick": {"n": 1}, "paper": {"n": 100}})


def test_profiles_and_overrides() -> None:
    spec = _spec()
    assert spec.make_config("quick").n == 1
    assert spec.make_config("paper").n == 100
    cfg = spec.make_config("quick", {"x": "2e-3", "flag": "true", "name": "b",
                                     "grid": "0,5,10", "maybe": "none"})
    assert cfg == _Cfg(n=1, x=2e-3, flag=True, name="b", grid=(0.0, 5.0, 10.0), maybe=None)
    assert set_field(_Cfg(), "maybe", "0.25").maybe == 0.25
    assert spec.system == "dummy"


@pytest.mark.parametrize(
    ("key", "raw", "needle"),
    [
        ("n", "three", "type int"),
        ("flag", "maybe", "type bool"),
        ("nope", "1", "unknown config key"),
    ],
)
def test_bad_overrides_name_the_problem(key: str, raw: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        _spec().make_config("quick", {key: raw})


def test_unknown_profile_and_experiment() -> None:
    with pytest.raises(ConfigError, match="unknown profile"):
        _spec().make_config("huge")
    with pytest.raises(ConfigError, match="unknown experiment"):
        get_experiment("no_such.experiment")


def test_memory_context_records_rows() -> None:
    ctx = MemoryContext()
    assert not ctx.is_done("a")
    ctx.record("a", [{"method": "m", "v": 1.0}])
    ctx.record("b", [{"method": "m", "v": 2.0}, {"method": "n", "v": 3.0}])
    assert ctx.is_done("a") and ctx.is_done("b")
    assert [r["v"] for r in ctx.rows()] == [1.0, 2.0, 3.0]
    assert ctx.rows("a") == [{"method": "m", "v": 1.0}]
    assert list(ctx.progress(range(3))) == [0, 1, 2]


def test_registry_lists_the_baselines_demo() -> None:
    spec = get_experiment("temiz_unsup.baselines")
    assert {"quick", "paper"} <= set(spec.profiles)
