"""Base class of the problem dataclasses: a batch of instances held as tensors plus scalars.

A problem class is a :func:`dataclasses.dataclass` deriving from :class:`BatchedProblem`. Each
field whose first dimension is the batch is declared with ``metadata=BATCHED``; every other
field (scalars, settings, tensors shared by the whole batch) is left as it is by
:meth:`~BatchedProblem.subset` and :meth:`~BatchedProblem.cat`. An optional batched field may
hold ``None``.

Examples
--------
>>> from dataclasses import dataclass, field
>>> import torch
>>> @dataclass
... class Toy(BatchedProblem):
...     x: torch.Tensor = field(metadata=BATCHED)
...     scale: float = 1.0
>>> t = Toy.cat([Toy(torch.zeros(2, 3)), Toy(torch.ones(1, 3))])
>>> t.batch_size, t.subset(slice(1, 3)).x.sum().item()
(3, 3.0)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

import torch

from isaclearn.core.dtypes import complex_dtype, real_dtype
from isaclearn.core.errors import ConfigError, ShapeError

BATCHED: Mapping[str, Any] = {"batched": True}
"""Metadata of a field whose first dimension is the batch: ``field(metadata=BATCHED)``."""


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
                and a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b)))
    return bool(a == b)


@dataclass
class BatchedProblem:
    """A batch of instances: ``batch_size``, ``subset``, ``to`` and ``cat`` derived from the
    dataclass fields (no wireless knowledge).

    Subclasses list their fields, mark the batched ones with ``metadata=BATCHED`` and add their
    properties and checks (``__post_init__`` runs again on every derived problem).
    """

    @classmethod
    def batched_fields(cls) -> tuple[str, ...]:
        """Names of the fields whose first dimension is the batch, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("batched", False))

    @property
    def batch_size(self) -> int:
        """Number of instances ``B`` (first dimension of the first batched tensor)."""
        for name in self.batched_fields():
            value = getattr(self, name)
            if value is not None:
                return int(value.shape[0])
        raise ShapeError(f"{type(self).__name__} holds no batched tensor")

    def subset(self, index: slice | torch.Tensor) -> Self:
        """The instances selected by ``index`` (a slice, integer indices or a boolean mask)
        along the batch dimension; the other fields are kept."""
        changes = {name: None if getattr(self, name) is None else getattr(self, name)[index]
                   for name in self.batched_fields()}
        return dataclasses.replace(self, **changes)

    def to(self, device: torch.device | str | None = None,
           dtype: torch.dtype | None = None) -> Self:
        """A copy with every tensor field on ``device`` and, if ``dtype`` is given, complex
        fields in ``complex_dtype(dtype)`` and real floating fields in ``real_dtype(dtype)``
        (``complex128`` or ``float64`` give complex128 / float64). Integer and boolean tensors
        keep their dtype; non-tensor fields are kept."""
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not f.init or not isinstance(value, torch.Tensor):
                continue
            if dtype is None:
                target = None
            elif value.is_complex():
                target = complex_dtype(dtype)
            elif value.is_floating_point():
                target = real_dtype(dtype)
            else:
                target = None
            changes[f.name] = value.to(device=device, dtype=target)
        return dataclasses.replace(self, **changes)

    @classmethod
    def cat(cls, problems: Sequence[Self]) -> Self:
        """The problems joined along the batch dimension.

        Batched fields are concatenated (an optional one must be ``None`` in all problems or
        in none); every other field must be equal in all problems and is kept.

        Raises
        ------
        ConfigError
            An empty sequence, a problem of another class, or differing non-batched fields.
        ShapeError
            An optional batched field that is ``None`` in some problems only.
        """
        items = list(problems)
        if not items:
            raise ConfigError(f"{cls.__name__}.cat needs at least one problem")
        for p in items:
            if type(p) is not cls:
                raise ConfigError(f"{cls.__name__}.cat got a {type(p).__name__}")
        first = items[0]
        batched = set(cls.batched_fields())
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            values = [getattr(p, f.name) for p in items]
            if f.name in batched:
                missing = [v is None for v in values]
                if all(missing):
                    changes[f.name] = None
                elif any(missing):
                    raise ShapeError(f"{cls.__name__}.cat: {f.name} is None in some problems "
                                     "and not in others")
                else:
                    changes[f.name] = torch.cat(values, dim=0)
            elif not all(_same(values[0], v) for v in values[1:]):
                raise ConfigError(f"{cls.__name__}.cat: the problems differ in {f.name}")
        return dataclasses.replace(first, **changes)
