"""How much of the loss's class weighting a lidar model's labelling should divide out (``train.unweight_power``),
measured on synthetic streets that no bundled model was trained or validated on.

    python tools/unweight_sweep.py [--checkpoint pcseg/pretrained/lidar.pt] [--powers 0 0.25 0.5 0.75 1]

Synthesises fresh streets once (``pcseg synth lidar --seed 1000 --sequences 90 ... 99``, 50 scans, into
--work) and scores the checkpoint on every point of every scan at each power a (labels from the probabilities
times w_k ** -a, pcseg.engine.losses.unweighting), with remission and without it (as the real labelled scans
come), through the same path as ``pcseg segment``. Prints mIoU over the present classes and OA per power.
The bundled model's power is the one with the best mIoU without remission (configs/bundled_lidar.yaml); the
real scans are never used to choose it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SEED = 1000                                              # bundled models train on seed 0 or 1, sequences 00-79
SEQUENCES = [str(s) for s in range(90, 100)]
SCANS = 5


def fresh_clouds(cfg, work: Path) -> list:
    """The fresh streets' scans as ``val_clouds`` pairs, synthesised into ``work``/raw on first use; sets
    ``cfg.data`` to read them."""
    from pcseg.data.synth_lidar import synth_lidar
    from pcseg.engine.data import val_clouds

    raw = work / "raw"
    if not (raw / "sequences" / SEQUENCES[-1]).is_dir():
        synth_lidar(raw, sequences=SEQUENCES, scans=SCANS, seed=SEED)
    cfg.data.root = str(raw)
    cfg.data.val_sequences = SEQUENCES
    return val_clouds(cfg)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, default=REPO / "pcseg" / "pretrained" / "lidar.pt")
    p.add_argument("--powers", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0])
    p.add_argument("--work", type=Path, default=REPO / "data" / "unweight_sweep",
                   help="where the fresh streets are written (kept for later runs)")
    args = p.parse_args(argv)

    from pcseg.engine.evaluate import _without, score_clouds
    from pcseg.engine.predict import load_for_inference
    from pcseg.errors import PcsegError

    try:
        bad = [a for a in args.powers if not 0.0 <= a <= 1.0]
        if bad:
            raise PcsegError("--powers", f"must be between 0 and 1, got {bad[0]}")
        model, cfg, classes, device = load_for_inference(args.checkpoint)
        if not cfg.train.class_weight_values:
            raise PcsegError(args.checkpoint, "was trained without class weights: there is nothing to divide out")
        clouds = fresh_clouds(cfg, args.work)
        cfg.train.unweight_labels = True
        print(f"{args.checkpoint}: {len(clouds)} fresh synthetic scans (seed {SEED}, sequences "
              f"{SEQUENCES[0]}-{SEQUENCES[-1]}); labels times w ** -a")
        print(f"{'a':>5}  {'mIoU':>6} {'OA':>6}   without remission: {'mIoU':>6} {'OA':>6}")
        for power in args.powers:
            cfg.train.unweight_power = power
            row = []
            for scans in (clouds, [(name, _without(load, ("remission",), grey=False)) for name, load in clouds]):
                cm = score_clouds(model, scans, cfg, device)
                row += [100 * cm.miou_present, 100 * cm.oa]
            print(f"{power:5.2f}  {row[0]:6.1f} {row[1]:6.1f}   {'':19s}{row[2]:6.1f} {row[3]:6.1f}", flush=True)
    except PcsegError as exc:
        print(f"unweight_sweep: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
