"""`lookalike apply`: carry out a review plan (move trashed pictures to a trash folder) or undo it."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import IndexOption, JsonOption, handle_errors, open_index, print_json


@handle_errors
def apply_command(
    plan: Path = typer.Argument(..., metavar="PLAN", help="A plan file, as `lookalike serve` or `dupes --plan` saves it.",
                                show_default=False),
    index: Path | None = IndexOption,
    trash_dir: Path | None = typer.Option(
        None, "--trash-dir", metavar="DIR", show_default=False,
        help="Where trashed pictures go, each under its full original path. Default: trash/ in the index folder.",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Say what would move; move nothing."),
    undo: bool = typer.Option(False, "--undo", help="Put back every file this plan moved, and index them again."),
    json_out: bool = JsonOption,
) -> None:
    """Move the pictures a plan marks "trash" into a trash folder (nothing is ever deleted).

    Only pictures of the index whose file has not changed since it was indexed are moved; the
    moved ones leave the index. A journal beside the plan (PLAN.journal.json) records each move
    before it happens, so `lookalike apply --undo PLAN` can always put them back, even after
    a crash. Exit 1 when a picture could not be moved (listed with the reason).
    """
    from lookalike.indexer.plan import Plan, apply_plan, undo_plan

    recorded = Plan.load(plan).index
    where = index if index is not None or not recorded else Path(recorded)
    with open_index(where) as ix:
        report = undo_plan(ix, plan, dry_run=dry_run) if undo else apply_plan(ix, plan, trash_dir, dry_run=dry_run)
    if json_out:
        print_json(report)
    else:
        verb = ("would put back" if dry_run else "put back") if undo else ("would move" if dry_run else "moved")
        for m in report.moved:
            typer.echo(f"{verb}: {m.source}" + ("" if undo else f" -> {m.trashed}"))
        for path, reason in report.skipped:
            typer.echo(f"skipped {path}: {reason}", err=True)
        typer.echo(f"{len(report.moved)} {verb}, {len(report.skipped)} skipped")
    if report.skipped:
        raise typer.Exit(1)
