"""`lookalike search`: find indexed images (and regions) that look like a query."""

from __future__ import annotations

from pathlib import Path

import typer

from lookalike.indexer.results import SearchResult
from lookalike.models.errors import LookalikeError

from .common import DeviceOption, IndexOption, JsonOption, WeightsOption, handle_errors, open_index, print_json
from .errors import cli_message


@handle_errors
def search_command(
    queries: list[Path] = typer.Argument(..., help="Query images: whole pictures or small crops.", show_default=False),
    index: Path | None = IndexOption,
    k: int = typer.Option(5, "-k", "--top", min=1, help="Hits per query."),
    min_score: float | None = typer.Option(
        None, "--min-score", min=0.0, max=1.0,
        help="Score a hit needs to count as a match (default: the calibrated 0.90).", show_default=False,
    ),
    regions: bool = typer.Option(
        False, "--regions",
        help="Also the indexed pictures that share a region with any part of the query (a collage's sources), "
             "with the box in both (the index needs `index --regions`).",
    ),
    exact: bool = typer.Option(
        False, "--exact",
        help="Locate every region hit on the full-size pixels (slower). By default a rescaled region's box comes from "
             "draft-decoded pixels, within about 3% of its size; an unscaled crop's box is exact either way.",
    ),
    weights: Path | None = WeightsOption,
    device: str = DeviceOption,
    json_out: bool = JsonOption,
) -> None:
    """Find indexed images that look like each query, whole or in part.

    Each indexed image appears at most once, with the box where it resembles the query (the
    whole image, or the region a crop came from) and a score in [0, 1].

    A hit is a match when the score reaches --min-score and the query is not merely a rotated,
    mirrored or channel-swapped version of it. With --json, one line per query:
    {"query": ..., "hits": [{"path", "score", "match", "box": [x, y, w, h]}]}; with --regions also
    "regions": [{"path", "query_box", "box", "score"}].
    """
    failures = 0
    with open_index(index, weights=weights, device=device) as ix:
        for q in queries:
            try:
                hits = ix.search(q, k=k, min_score=min_score, exact=exact)
                shared = ix.search_regions(q, k=k) if regions else None
            except LookalikeError as exc:
                failures += 1
                if json_out:
                    print_json(SearchResult(str(q.resolve()), [], error=cli_message(exc)))
                else:
                    typer.echo(f"error: {cli_message(exc)}", err=True)
                continue
            if json_out:
                print_json(SearchResult(str(q.resolve()), hits, regions=shared))
                continue
            typer.echo(f"{q}:")
            if not hits:
                typer.echo("  (index is empty)")
            for rank, h in enumerate(hits, 1):
                flag = "match" if h.match else "     "
                x, y, w, hh = h.box
                typer.echo(f"  {rank:2d}. {h.score:.3f} {flag}  {h.path}  box {x},{y} {w}x{hh} ({h.kind})")
            if shared is not None:
                typer.echo("  shared regions:" if shared else "  no shared regions")
                for r in shared:
                    typer.echo(f"      {r.score:.3f}  {r.path}  box {list(r.box)}  query box {list(r.query_box)}")
    if failures:
        raise typer.Exit(1)
