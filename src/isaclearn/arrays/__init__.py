"""Array geometries and steering vectors (ULA, UPA) with explicit conventions."""

from isaclearn.arrays.ula import Reference, ula, ula_derivative, ula_u, ula_u_derivative, upa

__all__ = ["Reference", "ula", "ula_derivative", "ula_u", "ula_u_derivative", "upa"]
