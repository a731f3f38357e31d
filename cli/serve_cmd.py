"""`lookalike serve`: the review page in a browser."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import IndexOption, fail, handle_errors, index_dir


@handle_errors
def serve_command(
    index: Path | None = IndexOption,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on. Keep the default unless other "
                                                         "machines must reach it (there is no login)."),
    port: int = typer.Option(8765, "--port", "-p", min=0, max=65535, help="Port (0: any free one)."),
    read_only: bool = typer.Option(False, "--read-only", help="Look only: no plan can be saved or applied."),
) -> None:
    """Review duplicates and search in the browser: a local web page over an index.

    Search by dropping a picture; see duplicate groups side by side (synced zoom, swap, slider,
    difference) and region pairs with both boxes; mark pictures keep or trash, preselect (largest
    resolution, largest file, oldest), save the plan into the index folder and apply it (files
    are moved to a trash folder, never deleted; `lookalike apply --undo PLAN` puts them back).

    Everything is served from the package and works offline. The JSON API answers exactly what
    the commands print with --json: GET /api/info, POST /api/search (multipart "file", or
    {"path": p}), GET /api/dupes?regions=1, GET /api/thumb/ID.
    """
    import uvicorn

    from .web.app import create_app
    from .web.server import bind, url_of

    directory = index_dir(index)
    app = create_app(directory, read_only=read_only, host=host)
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    typer.echo(f"lookalike: reviewing {directory.resolve()} at {url_of(sock)} (Ctrl-C stops)")
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl-C is how a server is stopped: not a failure
        pass
    finally:
        sock.close()
    typer.echo("lookalike: stopped", err=True)
