"""Error types raised by isaclearn.

Every error a user can cause derives from :class:`IsacError`; the command-line tool turns it into
a one-line message and exit code 2.
"""

from __future__ import annotations


class IsacError(Exception):
    """Base class of every error isaclearn raises on purpose."""


class ShapeError(IsacError, ValueError):
    """An argument has the wrong shape or number of dimensions."""


class ValueRangeError(IsacError, ValueError):
    """An argument holds a value outside its allowed range (negative power, NaN, ...)."""


class ConfigError(IsacError, ValueError):
    """A configuration is impossible or names an unknown option."""


class InputFileError(IsacError):
    """A user-supplied file is missing, unreadable or lacks a required entry."""


class CheckpointError(IsacError):
    """A checkpoint is corrupted or does not match the requested configuration."""


class SolverError(IsacError, RuntimeError):
    """A numerical solver failed in a way that is not the user's input."""
