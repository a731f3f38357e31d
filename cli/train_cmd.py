"""`lookalike train`: train or fine-tune the lookalike-s embedder on a folder of photos."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from .common import JsonOption, handle_errors, print_json


@handle_errors
def train_command(
    folders: list[Path] = typer.Argument(..., help="Image files or folders (searched recursively).", show_default=False),
    out: Path = typer.Option(Path("lookalike-s.pt"), "--out", "-o", help="Where to write the checkpoint."),
    steps: int = typer.Option(400, "--steps", min=1, help="Optimizer steps."),
    batch: int = typer.Option(24, "--batch", min=2, help="Photos per step (each brings 3 more views)."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random choice: same seed, data and command, same model."),
    init: Path | None = typer.Option(None, "--from", help="Fine-tune this checkpoint instead of starting fresh."),
    gray_share: float = typer.Option(0.1, "--gray-share", min=0.0, max=1.0,
                                     help="Share of the photos shown in gray (scanned pages, gray photos)."),
    held_out: str = typer.Option("", "--held-out", help="Names the data you keep out of training to measure "
                                 "on; recorded in the checkpoint's metadata."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or mps."),
    json_out: bool = JsonOption,
) -> None:
    """Train the lookalike-s embedder contrastively on your photos.

    Positives are edits of each photo (JPEG q15, 25% trim, text overlay, caption band,
    sticker, noise, gamma 0.7, quarter size, and milder ones); its 7 rotations/mirrors, 5
    channel swaps and keystone warps are explicit negatives, so the model learns that those are
    *not* the same picture (those that leave a photo the same, a gray photo's channel swaps,
    are skipped).
    The checkpoint records the seed, this command, a digest of the data and what you held out
    (--held-out). A step takes 3-9 seconds on 2 CPU cores, whatever the number of photos: 500
    steps take 25-75 minutes. Use it with `lookalike index --embedder
    lookalike-s --weights OUT`.
    """
    from lookalike.models.embed.training import TrainConfig, train_lookalike_s

    command = "lookalike train " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    show = not json_out and sys.stderr.isatty()

    def progress(step: int, total: int, loss: float) -> None:
        if show and (step == total or step % 10 == 0):
            sys.stderr.write(f"\rtraining: step {step}/{total}, loss {loss:.3f}")
            sys.stderr.flush()

    rep = train_lookalike_s(folders, out, TrainConfig(steps=steps, batch=batch, seed=seed, gray_share=gray_share),
                            init=init, device=device, command=command, progress=progress, held_out=held_out)
    if show:
        sys.stderr.write("\n")
    if json_out:
        print_json(rep)
        return
    typer.echo(f"trained on {rep.images} images, {rep.steps} steps in {rep.seconds:.0f} s: loss "
               f"{rep.first_loss:.3f} -> {rep.last_loss:.3f}; wrote {rep.out} (version {rep.version})")
