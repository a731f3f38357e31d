"""Shared pieces of the CLI: the index location, errors as one-line messages, JSON, progress."""

from __future__ import annotations

import codecs
import functools
import json
import logging
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import typer

from lookalike.models.errors import LookalikeError

from .errors import cli_message

DEFAULT_INDEX = "lookalike-index"
INDEX_ENV = "LOOKALIKE_INDEX"

IndexOption = typer.Option(
    None, "--index", "-i", metavar="DIR",
    help=f"Index folder. Default: ${INDEX_ENV}, else ./{DEFAULT_INDEX}.", show_default=False,
)
JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON instead of text.")
WeightsOption = typer.Option(
    None, "--weights", metavar="FILE", show_default=False,
    help="Local weights for the index's embedder (a lookalike-s checkpoint or a torchvision state dict).",
)
DeviceOption = typer.Option("auto", "--device", help="Where the embedder runs: auto, cpu, cuda or mps.")

F = TypeVar("F", bound=Callable[..., Any])


def index_dir(option: Path | None) -> Path:
    if option is not None:
        return option
    return Path(os.environ.get(INDEX_ENV) or DEFAULT_INDEX)


def open_index(option: Path | None, create: bool = False, embedder: str | None = None,
               weights: Path | None = None, device: str = "auto") -> Any:
    """The :class:`~lookalike.indexer.index.Index` at ``--index`` (imported here: FAISS and
    SQLite load only for the commands that use an index)."""
    from lookalike.indexer.index import Index

    return Index.open(index_dir(option), create=create, embedder=embedder, weights=weights, device=device)


def fail(message: str, code: int = 1) -> "typer.Exit":
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def handle_errors(fn: F) -> F:
    """Turn lookalike's typed errors into a one-line message and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LookalikeError as exc:
            raise fail(cli_message(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except BrokenPipeError:
            raise typer.Exit(0) from None

    return wrapper  # type: ignore[return-value]


def json_text(obj: Any) -> str:
    """``obj`` as JSON text. A file name that is not valid UTF-8 is held as a string with lone
    surrogates (``os.fsdecode``); such a line is written with ``\\udcXX`` escapes, which JSON
    allows and Python reads back into the same name (``os.fsencode`` gives the bytes)."""
    text = json.dumps(obj, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj)
    return text


def print_json(result: Any) -> None:
    """One line of JSON: the result's ``to_dict()`` (every result type has one)."""
    sys.stdout.write(json_text(result.to_dict()) + "\n")
    sys.stdout.flush()


def _escape_undecodable(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: the bytes of a file name that is not UTF-8 shown as ``\\xNN``."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    return "".join(f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else f"\\u{ord(c):04x}"
                   for c in bad), exc.end


def escape_undecodable_output() -> None:
    """Text written to stdout and stderr shows undecodable file-name bytes escaped (``\\xff``)
    instead of failing."""
    codecs.register_error("lookalike-escape", _escape_undecodable)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="lookalike-escape")


@contextmanager
def progress_bar(label: str, enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """A progress callback ``(done, total)``: a bar on an interactive terminal, silent otherwise."""
    if not enabled or not sys.stderr.isatty():
        yield lambda done, total: None
        return
    state: dict[str, Any] = {"bar": None, "done": 0, "start": time.perf_counter()}
    try:
        def update(done: int, total: int) -> None:
            if state["bar"] is None:
                state["bar"] = typer.progressbar(length=max(total, 1), label=label, file=sys.stderr,
                                                 show_pos=True, show_eta=True)
                state["bar"].__enter__()
                state["start"] = time.perf_counter()
            elapsed = time.perf_counter() - state["start"]
            if done and elapsed > 0:
                state["bar"].label = f"{label} ({done / elapsed:.1f} images/s)"
            state["bar"].update(done - state["done"])
            state["done"] = done

        yield update
    finally:
        if state["bar"] is not None:
            state["bar"].__exit__(None, None, None)


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s: %(message)s",
                        stream=sys.stderr)
