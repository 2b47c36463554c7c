"""Core utilities: dtype/device policy, seeding, dB helpers, errors, batched linear algebra."""

from isaclearn.core.checks import (
    as_batch_param,
    as_per_instance,
    as_positive_per_item,
    as_real,
    check_complex_matrices,
    check_count,
    check_finite,
    check_last_dims,
    check_positive,
)
from isaclearn.core.design import Design, Designer
from isaclearn.core.dtypes import DEFAULT_COMPLEX, as_real_tensor, complex_dtype, real_dtype
from isaclearn.core.errors import (
    CheckpointError,
    ConfigError,
    InputFileError,
    IsacError,
    ShapeError,
    SolverError,
    ValueRangeError,
)
from isaclearn.core.linalg import (
    abs_sq,
    batched_kron,
    eye_like,
    fro_norm_sq,
    herm,
    project_per_antenna_power,
    scale_to_power,
)
from isaclearn.core.problem import BATCHED, BatchedProblem
from isaclearn.core.random import complex_normal, make_generator, seed_everything
from isaclearn.core.units import db_to_lin, lin_to_db

__all__ = [
    "BATCHED",
    "DEFAULT_COMPLEX",
    "BatchedProblem",
    "CheckpointError",
    "ConfigError",
    "Design",
    "Designer",
    "InputFileError",
    "IsacError",
    "ShapeError",
    "SolverError",
    "ValueRangeError",
    "abs_sq",
    "as_batch_param",
    "as_per_instance",
    "as_positive_per_item",
    "as_real",
    "as_real_tensor",
    "batched_kron",
    "check_complex_matrices",
    "check_count",
    "check_finite",
    "check_last_dims",
    "check_positive",
    "complex_dtype",
    "complex_normal",
    "db_to_lin",
    "eye_like",
    "fro_norm_sq",
    "herm",
    "lin_to_db",
    "make_generator",
    "project_per_antenna_power",
    "real_dtype",
    "scale_to_power",
    "seed_everything",
]
