"""Torch operators, one family per file; CPU or CUDA with the same code (``device=``)."""
