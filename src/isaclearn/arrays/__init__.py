"""Array geometries and steering vectors (ULA, UPA) with explicit conventions."""

from isaclearn.arrays.ula import ula, ula_derivative, upa

__all__ = ["ula", "ula_derivative", "upa"]
