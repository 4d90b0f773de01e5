"""How a lidar model's labelling should smooth its scores in 3D (``range.smooth_cell``, ``smooth_weight``),
measured on the synthetic streets that no bundled model was trained or validated on.

    python tools/smooth_sweep.py [--checkpoint pcseg/pretrained/lidar.pt] [--cells 0.2 0.3 0.5 0.75]
                                 [--weights 0.3 0.5 0.7 1] [--skip CLASS ...]

The same 50 fresh scans as ``tools/unweight_sweep.py`` (seed 1000, sequences 90-99, kept in --work), without
remission, as the real labelled scans come. Each scan's scores are computed once through the path
``pcseg segment`` takes with no smoothing (the checkpoint's own unweighting and kNN vote), then smoothed at
every cell size and weight (pcseg.range.smoothing; the points of the --skip classes take no part). Prints mIoU
over the present classes and OA per setting, none first. The bundled model's setting is the one with the best
mIoU here (configs/bundled_lidar.yaml); the real scans are never used to choose it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, default=REPO / "pcseg" / "pretrained" / "lidar.pt")
    p.add_argument("--cells", type=float, nargs="+", default=[0.2, 0.3, 0.5, 0.75], help="cell sizes, metres")
    p.add_argument("--weights", type=float, nargs="+", default=[0.3, 0.5, 0.7, 1.0], help="weights of the mean")
    p.add_argument("--skip", nargs="*", default=None,
                   help="classes whose points take no part (default: configs/bundled_lidar.yaml's smooth_skip)")
    p.add_argument("--work", type=Path, default=REPO / "data" / "unweight_sweep",
                   help="where the fresh streets are written (shared with unweight_sweep.py)")
    args = p.parse_args(argv)

    import numpy as np
    import torch

    from pcseg.config import load_config
    from pcseg.engine.evaluate import _without
    from pcseg.engine.inference import predict_cloud
    from pcseg.engine.predict import load_for_inference
    from pcseg.errors import PcsegError
    from pcseg.metrics import ConfusionMatrix
    from pcseg.range.inference import smoothing_skip
    from pcseg.range.smoothing import smooth_scores
    from unweight_sweep import SEED, SEQUENCES, fresh_clouds

    try:
        bad = [c for c in args.cells if not c > 0] + [w for w in args.weights if not 0 <= w <= 1]
        if bad:
            raise PcsegError("--cells/--weights", f"cells must be positive and weights in [0, 1], got {bad[0]}")
        model, cfg, classes, device = load_for_inference(args.checkpoint)
        if args.skip is None:
            args.skip = load_config(REPO / "configs" / "bundled_lidar.yaml").range.smooth_skip
        cfg.range.smooth_skip = list(args.skip)
        skip = smoothing_skip(cfg)
        cfg.range.smooth_cell = None                     # the scores as they come, smoothed below
        clouds = fresh_clouds(cfg, args.work)
    except PcsegError as exc:
        print(f"smooth_sweep: {exc}", file=sys.stderr)
        return 2
    settings = [(None, 0.0)] + [(c, w) for c in args.cells for w in args.weights]
    matrices = [ConfusionMatrix(classes.num_classes, class_names=list(classes.names)) for _ in settings]
    for _, load in clouds:
        cloud = _without(load, ("remission",), grey=False)()
        with torch.inference_mode():
            scores = predict_cloud(model, cloud, cfg, device)
        coord = torch.as_tensor(np.asarray(cloud.coord))
        label = np.asarray(cloud.label)
        for (cell, weight), cm in zip(settings, matrices):
            out = scores if cell is None else smooth_scores(coord, scores, cell, weight, skip)
            cm.update(out.argmax(1).numpy(), label)
    print(f"{args.checkpoint}: {len(clouds)} fresh synthetic scans without remission (seed {SEED}, sequences "
          f"{SEQUENCES[0]}-{SEQUENCES[-1]}); skipping {', '.join(args.skip) or 'nothing'}")
    print(f"{'cell':>5} {'weight':>6}  {'mIoU':>6} {'OA':>6}")
    for (cell, weight), cm in zip(settings, matrices):
        name = "none" if cell is None else f"{cell:g}"
        print(f"{name:>5} {weight:6.2f}  {100 * cm.miou_present:6.1f} {100 * cm.oa:6.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
