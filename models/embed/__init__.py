"""Learned embedders: the interface (``embedding``), ``lookalike-s`` and torchvision backbones,
loading by name (``registry``), training (``training``) and the edits it learns from (``edits``)."""
