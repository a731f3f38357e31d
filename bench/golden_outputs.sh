#!/usr/bin/env bash
# Golden outputs of every command on the sample data, for checking that a refactor moves nothing:
#   bash bench/golden_outputs.sh REPO_A OUT_A; bash bench/golden_outputs.sh REPO_B OUT_B; diff -r OUT_A OUT_B
# (REPO: a checkout with .venv installed). `dupes --regions` with several workers varies run to run
# (image ids follow decode completion order); the pattern output is cut at a byte count, so paths
# of different lengths move the cut; a checkpoint version is a digest of the file.
set -u
R=$1; O=$2; rm -rf $O; mkdir -p $O; W=$(mktemp -d); cd $W
L=$R/.venv/bin/lookalike
S=$R/data/sample
$L index $S/photos --index ix --regions --json > $O/index.json 2>$O/index.err; echo $? >> $O/index.json
$L search $S/queries/* --index ix --json -k 5 > $O/search.json; echo $? >> $O/search.json
$L dupes --regions --index ix --json > $O/dupes.json; echo $? >> $O/dupes.json
$L info --index ix --json | sed 's#"directory": "[^"]*"##' > $O/info.json
$L verify --index ix --json > $O/verify.json; echo $? >> $O/verify.json
$L index $S/photos --index ixs --embedder lookalike-s --json > $O/index_s.json 2>&1; echo $? >> $O/index_s.json
$L search $S/queries/* --index ixs --json -k 5 > $O/search_s.json; echo $? >> $O/search_s.json
$L dupes --index ixs --json > $O/dupes_s.json
$L find-crop $S/photos/scene14.jpg $S/queries/crop_of_scene14.jpg --json --top 2 > $O/crop.json; echo $? >> $O/crop.json
$L find-crop $S/photos/scene02.jpg $S/queries/scaled_crop_of_scene02.jpg --scales 0.5:2 --json > $O/crop2.json; echo $? >> $O/crop2.json
$L pattern $S/photos/scene03.jpg --pattern 1000/1111 --json | head -c 3000 > $O/pattern.json
$L diff $S/photos/scene03.jpg $S/photos/scene07.jpg --out d.png --tolerance 20 --json > $O/diff.json 2>&1; echo $? >> $O/diff.json
$L segment $S/photos/scene05.jpg --tolerance 6 --json --out seg.png --labels-out seg.npy > seg.json; head -c 5000 seg.json > $O/segment.json; md5sum seg.json >> $O/segment.json
$L background $S/photos/scene02.jpg $S/photos/scene06.jpg $S/photos/scene1[048].jpg --out bg.png --json > $O/bg.json 2>&1; echo $? >> $O/bg.json
md5sum seg.png seg.npy d.png bg.png >> $O/segment.json
$L search /nonexistent.jpg --index ix --json > $O/err1.json 2>&1; echo $? >> $O/err1.json
$L search $S/queries/crop_of_scene14.jpg --index nowhere > $O/err2.json 2>&1; echo $? >> $O/err2.json
$L index $S/photos --index ixs --embedder resnet50 > $O/err3.json 2>&1; echo $? >> $O/err3.json
$L segment $S/photos/scene05.jpg --method foo > $O/err4.json 2>&1; echo $? >> $O/err4.json
$L index $S/photos --index ixr --embedder resnet50 > $O/err5.json 2>&1; echo $? >> $O/err5.json
$L search $S/queries/crop_of_scene14.jpg --index ixs --weights /nope.pt > $O/err6.json 2>&1; echo $? >> $O/err6.json
$L search $S/queries/crop_of_scene14.jpg --index ixs --device cuda > $O/err7.json 2>&1; echo $? >> $O/err7.json
$R/.venv/bin/python -c "
import sys; sys.path.insert(0, '$R')
import numpy as np
from tests.models.video_helpers import make_video
rng = np.random.default_rng(0)
bg = (rng.random((120, 400, 3)) * 255).astype(np.uint8)
fr = np.stack([bg[:, 4*t:4*t+160].copy() for t in range(12)])
fr[:, 10:20, 10:60] = 255
make_video('v.mp4', fr)
"
$L static-layer v.mp4 --out layer.png --mask-out m.png --frames 12 --json > $O/static.json 2>&1; echo $? >> $O/static.json
md5sum layer.png m.png >> $O/static.json
$L train $S/photos --steps 3 --batch 4 --out t.pt --json | sed 's/"seconds": [0-9.]*//' > $O/train.json 2>&1
sed -i "s#$W#W#g; s#$R#R#g" $O/*
rm -rf $W
