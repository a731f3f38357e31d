"""Claim (issue 5): embedder throughput in images/s, beside an imagededup-style baseline.

Each pipeline decodes the photo from disk, resizes it and runs the network in batches of 32,
on all cores, in one process:
  lookalike-s    shorter side 128, whole image + every stored tile (roi_align), 128 dims
  resnet50       shorter side 224, whole image + every stored tile, 512 dims
(each also with the whole image only, the work the baseline does)
  baseline       imagededup-style: MobileNetV3-Small, image squashed to 224x224, global
                 average pooling, one forward pass per image, no tiles
Weights do not change speed; resnet50 and the baseline use freshly initialized weights saved
to a file and loaded through the real `--weights FILE` path (no download needed). Then whole
`lookalike index` runs (all stages: scan, decode, color grid, embeddings, SQLite, FAISS) with
--embedder none and --embedder lookalike-s. Medians of --repeat runs; CUDA rows too when a GPU
is present (mixed precision).

Usage: python bench/embed_throughput.py [--limit N] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median, require_photos, table  # noqa: E402

BATCH = 32


def _decode(path: str, side: int) -> np.ndarray:
    from lookalike.models.io.images import load_image, shrink_to_side

    return shrink_to_side(load_image(path, min_side=side).pixels, side)


def run_embedder(emb, paths: list[str], tiles: bool = True) -> float:
    from lookalike.indexer.regions import tile_boxes

    t = time.perf_counter()
    for i in range(0, len(paths), BATCH):
        imgs = [_decode(p, emb.input_side) for p in paths[i:i + BATCH]]
        boxes = []
        for im in imgs:
            h, w = im.shape[:2]
            boxes.append(tile_boxes(w, h) if tiles else np.zeros((0, 4)))
        emb.embed_with_regions(imgs, boxes)
    return len(paths) / (time.perf_counter() - t)


def run_baseline(model, paths: list[str], device) -> float:
    import torch
    from PIL import Image

    mean = torch.tensor([0.485, 0.456, 0.406], device=device).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device=device).view(1, 3, 1, 1)
    t = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(paths), BATCH):
            arrs = [np.asarray(Image.open(p).convert("RGB").resize((224, 224), Image.Resampling.BILINEAR))
                    for p in paths[i:i + BATCH]]
            x = torch.from_numpy(np.stack(arrs)).to(device).permute(0, 3, 1, 2).float() / 255
            with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=device.type == "cuda"):
                f = model.features((x - mean) / std)
            torch.nn.functional.adaptive_avg_pool2d(f, 1).flatten(1).float().cpu()
    return len(paths) / (time.perf_counter() - t)


def whole_index(paths_root: list[str], embedder: str, tmp: Path) -> float:
    ix = tmp / f"ix-{embedder}-{time.monotonic_ns()}"
    exe = Path(sys.executable).parent / "lookalike"
    t = time.perf_counter()
    subprocess.run([str(exe), "index", *paths_root, "--index", str(ix), "--embedder", embedder, "--json"],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import torch
    import torchvision.models as tvm

    from lookalike.models.embed.backbones import load_backbone
    from lookalike.models.embed.lookalike_s import load_lookalike_s

    paths = [str(p) for p in require_photos()]
    if args.limit:
        paths = paths[: args.limit]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        r50 = tmp / "resnet50.pth"
        torch.save(tvm.resnet50(weights=None).state_dict(), r50)
        for dev in devices:
            d = torch.device(dev)
            pipelines = {
                "lookalike-s (whole + tiles)": load_lookalike_s(device=dev),
                "resnet50 (whole + tiles)": load_backbone("resnet50", weights=r50, device=dev),
            }
            base = tvm.mobilenet_v3_small(weights=None).eval().to(d)
            got = {}
            for name, emb in pipelines.items():
                run_embedder(emb, paths[:8])  # warm-up
                got[name] = median([run_embedder(emb, paths) for _ in range(args.repeat)])
                whole = name.replace("whole + tiles", "whole image only")
                got[whole] = median([run_embedder(emb, paths, tiles=False) for _ in range(args.repeat)])
            run_baseline(base, paths[:8], d)
            got["baseline: MobileNetV3-S 224, global pool"] = median(
                [run_baseline(base, paths, d) for _ in range(args.repeat)])
            ref = got["baseline: MobileNetV3-S 224, global pool"]
            for name, ips in got.items():
                rows.append([dev, name, f"{ips:.1f}", f"{ips / ref:.2f}"])
        print(f"embedder throughput on {len(paths)} photos, torch threads {torch.get_num_threads()}, "
              f"median of {args.repeat}")
        print(table(rows, ["device", "pipeline", "images/s", "vs baseline"]))
        roots = sorted({str(Path(p).parent) for p in paths}) if not args.limit else paths
        idx_rows = []
        for emb in ("none", "lookalike-s"):
            secs = median([whole_index(roots, emb, tmp) for _ in range(args.repeat)])
            idx_rows.append([emb, f"{secs:.1f}", f"{len(paths) / secs:.1f}"])
        print(f"\n`lookalike index` of {len(paths)} photos, whole process, {os.cpu_count()} CPUs:")
        print(table(idx_rows, ["--embedder", "seconds", "images/s"]))


if __name__ == "__main__":
    main()
