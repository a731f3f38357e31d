"""Claim (issue 4): `label_regions` at tolerance 0 gives the same partitions as
skimage.measure.label (and scipy.ndimage.label and OpenCV connectedComponentsWithStats on binary
images) on random, blob, spiral and photo-derived inputs, within 3x of OpenCV's time on CPU at
1 and 8 megapixels.

Inputs (seeded): random binary noise (density 0.5), blobs (smoothed noise thresholded), a
one-pixel-wide spiral snake (the case that breaks capped propagation), and photos from
../shared/data/photos resized to the size, both binarized at their mean gray (for OpenCV and
scipy) and quantized to 4 levels per channel (multi-color, skimage only).

Binary inputs are labelled the way OpenCV and scipy label them: the zeros are background, the
regions are the foreground's (`label_regions(..., background=0)`), and that is the time the ratio
compares. "all regions ms" is the default, every region of both colors (also checked against
skimage); for the multi-color photo it is the only time. Times are in process, medians, labels
plus per-region statistics for lookalike and OpenCV (area, box, centroid; lookalike also mean
color), labels only for skimage and scipy.

Usage: python bench/segment.py [--repeat 5] [--photos DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median, table  # noqa: E402

SIZES = {"1 MP": (1000, 1000), "8 MP": (2448, 3264)}


def spiral(h: int, w: int) -> np.ndarray:
    """A one-pixel-wide snake spiralling inwards, rings two pixels apart: the foreground is one
    region whose path length is about half the pixel count, and so is the background."""
    img = np.zeros((h, w), np.uint8)
    t, left, b, r = 0, 0, h - 1, w - 1
    first = True
    while t <= b and left <= r:
        img[t, (left if first else left - 2):r + 1] = 1
        img[t:b + 1, r] = 1
        if b > t:
            img[b, left:r + 1] = 1
        if r > left:
            img[t + 2:b + 1, left] = 1
        first = False
        t, left, b, r = t + 2, left + 2, b - 2, r - 2
    return img


def blobs(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    from scipy import ndimage

    noise = ndimage.gaussian_filter(rng.random((h // 4, w // 4)), 3)
    big = np.kron(noise, np.ones((4, 4)))[:h, :w]
    return (big > np.median(big)).astype(np.uint8)


def photo(path: Path, h: int, w: int) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB").resize((w, h), Image.BILINEAR))


def same_partition(a: np.ndarray, b: np.ndarray, where: np.ndarray | None = None) -> bool:
    """Whether two labelings split the pixels (or the pixels in ``where``) into the same sets."""
    if where is not None:
        a, b = a[where], b[where]
    a, b = a.reshape(-1).astype(np.int64), b.reshape(-1).astype(np.int64)
    pairs = np.unique(a * (int(b.max()) + 1) + b)
    return len(pairs) == len(np.unique(a)) == len(np.unique(b))


def timed(fn, repeat: int) -> tuple[float, object]:
    out = fn()  # warm-up
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return median(ts), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--photos", default=str(Path(__file__).resolve().parents[1] / "../shared/data/photos"))
    ap.add_argument("--checks", type=int, default=200, help="small random inputs checked against skimage")
    args = ap.parse_args()
    import cv2
    import torch
    from scipy import ndimage
    from skimage.measure import label as sk_label

    from lookalike.models import label_regions

    torch.set_num_threads(2)
    cv2.setNumThreads(2)
    rng = np.random.default_rng(0)
    photos = sorted(p for p in Path(args.photos).rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))

    # many small random inputs, several colors, both connectivities: partitions against skimage
    agree = 0
    for i in range(args.checks):
        h, w = rng.integers(1, 40, 2)
        img = rng.integers(0, rng.integers(1, 4), (h, w, 3)).astype(np.uint8)
        code = img[..., 0].astype(np.int64) * 65536 + img[..., 1].astype(np.int64) * 256 + img[..., 2]
        conn = 4 if i % 2 else 8
        ours = label_regions(img, 0, conn, stats=False).labels.numpy()
        ref = sk_label(code + 1, background=0, connectivity=1 if conn == 4 else 2)
        agree += int(np.array_equal(ours, ref))
    print(f"small random color images, labels identical to skimage (numbering included): {agree}/{args.checks}")

    rows = []
    ratios = []
    for size, (h, w) in SIZES.items():
        binaries = {"random": (rng.random((h, w)) < 0.5).astype(np.uint8), "blobs": blobs(h, w, rng),
                    "spiral": spiral(h, w)}
        color = {}
        if photos:
            pic = photo(photos[len(photos) // 2], h, w)
            binaries["photo"] = (pic.mean(axis=2) > pic.mean()).astype(np.uint8)
            color["photo, 64 colors"] = (pic // 64).astype(np.uint8)
        for name, img in binaries.items():
            for conn in (4, 8):
                sk_conn = 1 if conn == 4 else 2
                # the foreground's regions, as OpenCV and scipy compute them (zeros are background)
                t_ours, seg = timed(lambda: label_regions(img, 0, conn, background=0), args.repeat)
                t_cv, cv = timed(lambda: cv2.connectedComponentsWithStats(img, connectivity=conn), args.repeat)
                t_sk, sk = timed(lambda: sk_label(img, background=0, connectivity=sk_conn), args.repeat)
                struct = ndimage.generate_binary_structure(2, sk_conn)
                t_sc, sc = timed(lambda: ndimage.label(img, structure=struct), args.repeat)
                # every region of both colors (the CLI's default), against skimage
                t_all, seg_all = timed(lambda: label_regions(img, 0, conn), args.repeat)
                sk_all = sk_label(img + 1, background=0, connectivity=sk_conn)
                labels = seg.labels.numpy()
                same = (np.array_equal(labels, sk) and np.array_equal(labels > 0, img > 0)
                        and same_partition(labels, cv[1]) and same_partition(labels, sc[0])
                        and np.array_equal(seg_all.labels.numpy(), sk_all))
                ratio = t_ours / t_cv
                ratios.append(ratio)
                rows.append([size, name, str(conn), str(seg.count), "yes" if same else "NO",
                             f"{1000 * t_ours:.1f}", f"{1000 * t_cv:.1f}", f"{ratio:.2f}", f"{1000 * t_sk:.1f}",
                             f"{1000 * t_sc:.1f}", f"{1000 * t_all:.1f}"])
        for name, img in color.items():
            code = img[..., 0].astype(np.int64) * 65536 + img[..., 1].astype(np.int64) * 256 + img[..., 2]
            for conn in (4, 8):
                t_ours, seg = timed(lambda: label_regions(img, 0, conn), args.repeat)
                t_sk, sk = timed(lambda: sk_label(code + 1, background=0, connectivity=1 if conn == 4 else 2),
                                 args.repeat)
                same = np.array_equal(seg.labels.numpy(), sk)
                rows.append([size, name, str(conn), str(seg.count), "yes" if same else "NO",
                             "-", "-", "-", f"{1000 * t_sk:.1f}", "-", f"{1000 * t_ours:.1f}"])
    print(table(rows, ["size", "input", "conn", "regions", "same partition", "lookalike ms", "OpenCV ms",
                       "ratio", "skimage ms", "scipy ms", "all regions ms"]))
    worst = max(ratios)
    print(f"lookalike/OpenCV on binary inputs: median {median(ratios):.2f}, worst {worst:.2f}; "
          f"goal within 3x: {'MET' if worst <= 3 else 'NOT MET'}")


if __name__ == "__main__":
    main()
