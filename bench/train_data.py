"""The training folder of issue 15's lookalike-s recipe (measured, not shipped: README): the tuning half of every category
of bench/categories.py, so the held-out half stays unseen by the model as by every threshold.

Written to OUT (a new folder):
  real/    links to the real pictures of the tuning half: the photos of CBSD68 and CSun_Hays80,
           Kodak, two of every three vector pieces (the 150 dpi file of each)
  made/    --per pictures of each generated kind (even seeds; gray, dark and halftones made from
           tuning-half photos), the near-uniform control left out (it has nothing to learn)
Held out (never written): CSet14, Unsplash, every third vector piece, the odd seeds.

Then: lookalike train OUT --out lookalike-s.pt --steps 500 --held-out "$(python bench/train_data.py --held-out)"

Usage: python bench/train_data.py OUT [--per 12]
       python bench/train_data.py --held-out      (prints the held-out description)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from categories import CONTROL, GENERATED, REAL, generate, real_pictures  # noqa: E402

HELD_OUT = ("bench/categories.py held-out half: photos of CSet14, Unsplash, every third vector piece, "
            "generated pictures of odd seeds")


def write(out: Path, per: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    (out / "real").mkdir(parents=True)
    (out / "made").mkdir()
    for cat in REAL:
        pics = [p for p, held in real_pictures(cat) if not held]
        for i, p in enumerate(pics):
            (out / "real" / f"{cat}_{i:03d}{p.suffix.lower()}").symlink_to(p.resolve())
        counts[cat] = len(pics)
    for cat in GENERATED:
        if cat == CONTROL:
            continue
        for i, im in enumerate(generate(cat, per, held_out=False)):
            im.save(out / "made" / f"{cat}_{i:03d}.png")
        counts[cat] = per
    return counts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?", type=Path)
    ap.add_argument("--per", type=int, default=12)
    ap.add_argument("--held-out", action="store_true", help="print what is held out and stop")
    args = ap.parse_args()
    if args.held_out:
        print(HELD_OUT)
        return
    if args.out is None:
        sys.exit("give the folder to write (OUT)")
    if args.out.exists():
        sys.exit(f"{args.out} exists: give a new folder")
    counts = write(args.out, args.per)
    print(f"wrote {sum(counts.values())} pictures to {args.out}: "
          + ", ".join(f"{c} {n}" for c, n in counts.items()))


if __name__ == "__main__":
    main()
