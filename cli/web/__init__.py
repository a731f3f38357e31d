"""The review page of ``lookalike serve``: a FastAPI app over an index (see :func:`create_app`)."""

from __future__ import annotations

__all__ = ["create_app"]


def create_app(*args, **kwargs):  # type: ignore[no-untyped-def]
    """:func:`lookalike.cli.web.app.create_app` (imported on first use: FastAPI loads only for ``serve``)."""
    from .app import create_app as make

    return make(*args, **kwargs)
