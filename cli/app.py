"""The `lookalike` command. Each command parses, calls one library function, formats."""

from __future__ import annotations

import atexit
import logging
import os
import sys

import typer

from .apply_cmd import apply_command
from .admin_cmd import info_command, merge_command, rebuild_command, verify_command
from .common import escape_undecodable_output, setup_logging
from .dupes_cmd import dupes_command
from .frames_cmd import background_command, diff_command, static_layer_command
from .index_cmd import index_command
from .crop_cmd import find_crop_command
from .pattern_cmd import pattern_command
from .search_cmd import search_command
from .serve_cmd import serve_command
from .segment_cmd import segment_command
from .train_cmd import train_command

app = typer.Typer(
    name="lookalike",
    help="Find images, and parts of images, that look alike at a glance: same colors in the same places.\n\n"
         "Start with `lookalike index PHOTOS/`, then `lookalike search QUERY.jpg`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts are plain: JSON examples such as "box": [x, y, w, h] stay as written
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what happens.")) -> None:
    setup_logging(verbose)
    escape_undecodable_output()


app.command("index")(index_command)
app.command("search")(search_command)
app.command("dupes")(dupes_command)
app.command("apply")(apply_command)
app.command("serve")(serve_command)
app.command("info")(info_command)
app.command("rebuild")(rebuild_command)
app.command("verify")(verify_command)
app.command("merge")(merge_command)
app.command("find-crop")(find_crop_command)
app.command("pattern")(pattern_command)
app.command("diff")(diff_command)
app.command("static-layer")(static_layer_command)
app.command("background")(background_command)
app.command("segment")(segment_command)
app.command("train")(train_command)


def _exit_now(code: int | str | None) -> None:
    """Flush, run the atexit handlers, and leave without tearing the interpreter down: with torch
    loaded, freeing every module object at exit takes about 0.4 s, longer than many commands.
    Everything lookalike writes is closed by its own ``with`` block before this point."""
    if isinstance(code, str):
        sys.stderr.write(code + "\n")
        code = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing left to deliver
            pass
    atexit._run_exitfuncs()
    os._exit(code or 0)


def main() -> None:
    try:
        app()
    except SystemExit as exc:
        _exit_now(exc.code)
    _exit_now(0)


if __name__ == "__main__":
    main()
