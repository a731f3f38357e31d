"""Translucent panels completed along their straight edges (a step of :mod:`.static_overlay`).

A half-transparent panel (``I = a C + (1 - a) B``) that the camera pans along hides the same
strip of scene in every frame. The panorama sees that strip only through the panel, so inside
it the panel looks like part of the scene, and the per-pixel test finds at most the panel's ends
(where the pan moved scene in and out from under it). Its edges still tell, in every frame and
whatever the camera does: the pixels just inside an edge show the background of the pixels just
outside (the scene is continuous) dimmed to ``1 - a`` of its variation and offset by ``a C``.

From each solid translucent piece found so far (a panel's end, say), candidate edges on both
sides of it are tested over the piece's extent, the layer's ``a`` and ``C`` estimated from the
pair of edges together: across each edge, the ratio of the inside's temporal spread to the
outside's must be ``1 - a``, and ``a C + (1 - a) outside`` must explain the inside's frames far
better than ``outside`` does. Where a pair holds over most of the piece, the panel runs along
the edges as far as they keep holding (the prefix of best balance of holding minus failing
positions), and the rectangle is added with that opacity and color.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .components import label_regions

__all__: list[str] = []  # internal to static_layer


@dataclass(frozen=True)
class _Edge:
    """Evidence across one candidate edge, per position along it (length ``L``)."""

    ratio: torch.Tensor  # (L,) temporal spread inside / outside
    varied: torch.Tensor  # (L,) bool: the outside varies enough over time to judge the ratio
    mean_in: torch.Tensor  # (C, L) temporal mean of the lines inside
    mean_out: torch.Tensor  # (C, L) and outside
    plain: torch.Tensor  # (L,) sum of squares of inside - outside
    inside: tuple[torch.Tensor, ...]  # (T, C, L) lines just inside
    outside: tuple[torch.Tensor, ...]  # (T, C, L) lines beyond the edge's blur


def _edge(x: torch.Tensor, first: int, sign: int, dim: int, min_spread: float) -> _Edge | None:
    """The edge whose first line inside the layer is ``first`` (a row for ``dim`` 2, a column
    for 3), the layer lying towards ``sign``; ``None`` where the lines fall off the frame.
    Lines ``first`` and ``first + sign`` are inside; ``first - 3 sign`` and ``first - 4 sign``
    are outside, clear of the blur that compression puts on the edge."""
    ins, outs = [first, first + sign], [first - 3 * sign, first - 4 * sign]
    if min(ins + outs) < 0 or max(ins + outs) >= x.shape[dim]:
        return None
    inside = tuple(x.select(dim, i) for i in ins)
    outside = tuple(x.select(dim, o) for o in outs)
    var_in = sum(t.var(dim=0).sum(dim=0) for t in inside)
    var_out = sum(t.var(dim=0).sum(dim=0) for t in outside)
    ratio = (var_in / var_out.clamp(min=1e-6)).sqrt()
    mean_in = sum(t.mean(dim=0) for t in inside) / 2
    mean_out = sum(t.mean(dim=0) for t in outside) / 2
    plain = sum(((i - o) ** 2).sum(dim=(0, 1)) for i, o in zip(inside, outside))
    varied = var_out > 2 * x.shape[1] * min_spread ** 2
    return _Edge(ratio, varied, mean_in, mean_out, plain, inside, outside)


def _holds(e: _Edge, a: float, color: torch.Tensor, tol: float) -> torch.Tensor:
    """``(L,) bool``: a layer of opacity ``a`` and color ``color (C,)`` explains the edge there."""
    ac = (a * color).view(1, -1, 1)
    layered = sum(((i - ac - (1 - a) * o) ** 2).sum(dim=(0, 1)) for i, o in zip(e.inside, e.outside))
    return e.varied & ((e.ratio - (1 - a)).abs() < tol) & (layered < 0.5 * e.plain)


def _opacity(ratio: torch.Tensor) -> float | None:
    """The opacity ``1 - median(ratio)`` that spread ratios across edges tell, or ``None`` when
    there are none or it is not a panel's (0.25 to 0.85)."""
    if len(ratio) == 0:
        return None
    a = 1.0 - float(ratio.median())
    return a if 0.25 <= a <= 0.85 else None


def _joint_fit(e1: _Edge, e2: _Edge, span: slice, tol: float) -> tuple[float, float, torch.Tensor]:
    """One opacity and color for a pair of edges over ``span`` (medians of the positions whose
    ratio looks like a layer's), and the share of ``span`` where both edges hold with them.
    Returns ``(share, a, color)``; share 0 when the pair does not look like a layer at all."""
    n = span.stop - span.start
    sels = [e.varied[span] & (e.ratio[span] > 0.1) & (e.ratio[span] < 0.9) for e in (e1, e2)]
    ratio = torch.cat([e.ratio[span][sel] for e, sel in zip((e1, e2), sels)])
    a = _opacity(ratio) if len(ratio) >= 0.6 * n else None
    if a is None:
        return 0.0, 0.0, torch.zeros(0)
    offsets = torch.cat([(e.mean_in - (1 - a) * e.mean_out)[:, span][:, sel] for e, sel in zip((e1, e2), sels)], dim=1)
    color = (offsets.median(dim=1).values / a).clamp(0, 255)
    share = min(float(_holds(e, a, color, tol)[span].float().mean()) for e in (e1, e2))
    return share, a, color


def _run(e1: _Edge, e2: _Edge, a: float, color: torch.Tensor, start: int, stop: int, tol: float) -> tuple[int, int]:
    """How far along its edges the layer runs, from ``start..stop`` (inclusive, trimmed to the
    positions where both edges hold): each way, the prefix with the best balance of positions
    where both edges hold minus positions where they clearly do not (the inside varies as much
    as the outside across both edges, or far more across either)."""
    verdict = torch.zeros_like(e1.ratio)
    verdict[_holds(e1, a, color, tol) & _holds(e2, a, color, tol)] = 1
    plain1, plain2 = (e1.ratio > 0.9) & e1.varied, (e2.ratio > 0.9) & e2.varied
    verdict[(plain1 & plain2) | (e1.ratio > 1.3) & e1.varied | (e2.ratio > 1.3) & e2.varied] = -1
    good = torch.nonzero(verdict[start:stop + 1] > 0).flatten()
    if len(good) == 0:
        return start, stop
    start, stop = start + int(good[0]), start + int(good[-1])

    def reach(seq: torch.Tensor) -> int:
        if len(seq) == 0:
            return 0
        balance = torch.cumsum(seq, dim=0)
        return int(balance.argmax()) + 1 if float(balance.max()) > 0 else 0

    return start - reach(verdict[:start].flip(0)), stop + reach(verdict[stop + 1:])


def _color(x: torch.Tensor, a: float, r1: int, r2: int, q0: int, q1: int, dim: int, margin: int) -> torch.Tensor:
    """The panel's color ``(C,)`` from its mean over all frames, ``a C + (1 - a) B``, taking
    for the mean background ``B`` under it that of the bands just beyond its two edges (over
    the same length, clear of the blur), which a pan along the panel shows alike."""
    along = slice(q0, q1 + 1)
    lines = lambda lo, hi: x.narrow(dim, lo, max(hi - lo, 0)).transpose(2, dim)[:, :, :, along]  # noqa: E731
    size = x.shape[dim]
    inside = lines(r1, r2 + 1)
    around = torch.cat([lines(max(r1 - 3 - margin, 0), max(r1 - 3, 0)), lines(min(r2 + 4, size), min(r2 + 4 + margin, size))], dim=2)
    if around.shape[2] == 0:
        return inside.mean(dim=(0, 2, 3))
    return ((inside.mean(dim=(0, 2, 3)) - (1 - a) * around.mean(dim=(0, 2, 3))) / a).clamp(0, 255)


def translucent(mask: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """``(H, W) bool``: the layer's pixels that are neither faint nor opaque (a panel's, not a
    halo's or a text's)."""
    return mask & (alpha > 0.15) & (alpha < 0.85)


def _pieces(mask: torch.Tensor, alpha: torch.Tensor, min_area: int = 100, min_side: int = 8,
            solid: float = 0.5) -> list[tuple[int, int, int, int]]:
    """Boxes ``(x0, y0, x1, y1)`` (inclusive) of the solid translucent pieces of the layer: the
    rows and columns holding at least half of a piece's widest row/column, when the piece
    fills at least ``solid`` of that box."""
    trans = translucent(mask, alpha)
    if not bool(trans.any()):
        return []
    seg = label_regions(trans.to(torch.uint8), 0, 8, background=0, stats=True)
    out = []
    for i in range(seg.count):
        if seg.stats.area[i] < min_area:
            continue
        piece = seg.labels == i + 1
        rows, cols = piece.sum(dim=1), piece.sum(dim=0)
        ys = torch.nonzero(rows >= 0.5 * rows.max()).flatten()
        xs = torch.nonzero(cols >= 0.5 * cols.max()).flatten()
        y0, y1, x0, x1 = int(ys[0]), int(ys[-1]), int(xs[0]), int(xs[-1])
        if min(y1 - y0, x1 - x0) < min_side or float(piece[y0:y1 + 1, x0:x1 + 1].float().mean()) < solid:
            continue
        out.append((x0, y0, x1, y1))
    return out


def extend_along_edges(x: torch.Tensor, mask: torch.Tensor, alpha: torch.Tensor, color: torch.Tensor,
                       search: int = 24, inside: int = 4, need: float = 0.6, tol: float = 0.15,
                       min_spread: float = 5.0, candidates: int = 3):
    """``x (T, C, H, W)`` float frames on the 0-255 scale; ``mask (H, W) bool``, ``alpha (H, W)``,
    ``color (C, H, W)``: the layer so far. Returns them with the panels completed. Edges are
    looked for up to ``search`` lines outside each piece and ``inside`` lines into it; the
    ``candidates`` best of each side are paired, and a pair must hold on ``need`` of the piece."""
    boxes = _pieces(mask, alpha)
    if not boxes:
        return mask, alpha, color
    mask, alpha, color = mask.clone(), alpha.clone(), color.clone()
    for x0, y0, x1, y1 in boxes:
        for dim in (2, 3):
            # dim 2: edges are rows (above and below the piece) and the panel runs along x
            lo, hi, p0, p1 = (y0, y1, x0, x1) if dim == 2 else (x0, x1, y0, y1)
            span = slice(p0, p1 + 1)

            def best_lines(lines: range, sign: int) -> list[tuple[int, _Edge]]:
                scored = []
                for r in lines:
                    e = _edge(x, r, sign, dim, min_spread)
                    if e is not None:
                        scored.append((_joint_fit(e, e, span, tol)[0], r, e))
                return [(r, e) for _, r, e in sorted(scored, key=lambda t: t[:2])[-candidates:]]

            firsts = best_lines(range(lo - search, lo + inside + 1), +1)
            lasts = best_lines(range(hi - inside, hi + search + 1), -1)
            best = None
            for r1, e1 in firsts:
                for r2, e2 in lasts:
                    if r2 - r1 < 4:
                        continue
                    share, a, c = _joint_fit(e1, e2, span, tol)
                    if share > (best[0] if best else 0.0):
                        best = (share, a, c, r1, e1, r2, e2)
            if best is None or best[0] < need:
                continue
            _, a, c, r1, e1, r2, e2 = best
            q0, q1 = _run(e1, e2, a, c, p0, p1, tol)
            # the whole run tells the opacity better than the piece's stretch alone
            whole = _opacity(torch.cat([e.ratio[q0:q1 + 1][e.varied[q0:q1 + 1]] for e in (e1, e2)]))
            a = whole if whole is not None else a
            c = _color(x, a, r1, r2, q0, q1, dim, margin=search // 3)
            add = torch.zeros_like(mask)
            if dim == 2:
                add[r1:r2 + 1, q0:q1 + 1] = True
            else:
                add[q0:q1 + 1, r1:r2 + 1] = True
            add &= ~mask
            alpha[add] = a
            color[:, add] = c.to(color.dtype)[:, None]
            mask |= add
            break
    return mask, alpha, color
