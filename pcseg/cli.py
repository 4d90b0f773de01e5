"""The ``pcseg`` command. Each subcommand's work lives in its own module, imported only when it runs, so
the command starts quickly; ``PcsegError`` (bad input) becomes one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import importlib
import sys

from pcseg.errors import PcsegError


TTA_HELP = ("test-time augmentation: average the scores of turned (3D models, 4x the network time) or mirrored "
            "(range models, 2x) copies")


def _finite(text: str) -> float:
    """A float option that must be a real number (``nan`` and ``inf`` parse as floats but mean nothing here)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pcseg", description="Point-cloud semantic segmentation toolkit.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    synth = sub.add_parser("synth", help="write synthetic datasets in the real on-disk layouts")
    synth_sub = synth.add_subparsers(dest="kind", required=True, metavar="KIND")
    s = synth_sub.add_parser("s3dis", help="procedural rooms in raw S3DIS layout")
    s.add_argument("out")
    s.add_argument("--areas", type=int, nargs="+", default=None, help="areas to write (default: 1 5)")
    s.add_argument("--rooms", type=int, default=None, help="rooms per area (default: 3)")
    s.add_argument("--points", type=int, default=None, help="approximate points per room")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--style", choices=("surface", "scan"), default="surface",
                   help="surface: uniform surface sampling (fast, the demo's); scan: ray cast from several "
                        "scanner positions per room with occlusion, lighting and camera colour")
    s.set_defaults(handler="pcseg.data.synth_s3dis:cli")
    s = synth_sub.add_parser("lidar", help="ray-cast street scans in SemanticKITTI layout")
    s.add_argument("out")
    s.add_argument("--scans", type=int, default=None, help="scans per sequence")
    s.add_argument("--sequences", nargs="+", default=None, help="sequence ids (default: 00 08)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(handler="pcseg.data.synth_lidar:cli")

    prep = sub.add_parser("prepare", help="parse a raw dataset once into the training cache")
    prep_sub = prep.add_subparsers(dest="kind", required=True, metavar="KIND")
    s = prep_sub.add_parser("s3dis", help="raw S3DIS tree or PointNet HDF5 folder -> per-room cache")
    s.add_argument("raw")
    s.add_argument("out")
    s.add_argument("--workers", type=int, default=None, help="parallel processes (default: CPU count)")
    s.set_defaults(handler="pcseg.data.prepare:cli")

    s = sub.add_parser("train", help="train a model from a YAML config")
    s.add_argument("config")
    s.add_argument("overrides", nargs="*", metavar="key=value")
    s.set_defaults(handler="pcseg.engine.train:cli")

    s = sub.add_parser("eval", help="per-point scores on whole held-out rooms / scans")
    s.add_argument("config")
    s.add_argument("--checkpoint", required=True, nargs="+",
                   help="one checkpoint, or six (one per fold) for S3DIS 6-fold pooling")
    s.add_argument("--out", default=None, help="where to write metrics.json and predictions")
    s.add_argument("--without", action="append", metavar="remission|rgb",
                   help="score as on clouds without this input channel (the model gets what segment gives it "
                        "then: the training mean, or grey); repeatable")
    s.add_argument("--tta", action="store_true", help=TTA_HELP)
    s.add_argument("overrides", nargs="*", metavar="key=value")
    s.set_defaults(handler="pcseg.engine.evaluate:cli")

    s = sub.add_parser("segment", help="label any point-cloud file with a trained model")
    s.add_argument("inputs", nargs="+", metavar="INPUT")
    which = s.add_mutually_exclusive_group(required=True)
    which.add_argument("--checkpoint", help="a checkpoint written by pcseg train")
    which.add_argument("--model", metavar="NAME", help="a bundled model (see pcseg models); no download")
    s.add_argument("--out", required=True)
    s.add_argument("--tile-points", type=int, default=2_000_000, metavar="N",
                   help="3D models: .npy/.bin clouds with more points are read in chunks and segmented tile by "
                        "tile in bounded memory, with the same labels (default 2,000,000)")
    s.add_argument("--batch-size", type=int, default=None, metavar="B",
                   help="3D models: blocks per forward pass (default: the checkpoint's train.batch_size); "
                        "smaller needs less memory, same labels")
    s.add_argument("--sensor-origin", type=_finite, nargs=3, default=None, metavar=("X", "Y", "Z"),
                   help="range models: where the sensor was, for scans stored in a world frame")
    s.add_argument("--point-dims", type=int, default=None, metavar="N",
                   help="float32 columns of headerless .bin files: 4 x y z remission (KITTI, the default), "
                        "5 x y z intensity ring (nuScenes, the default for *.pcd.bin), 6 x y z r g b "
                        "(mmdetection3d indoor); others: x y z + extra columns")
    s.add_argument("--runtime", choices=("torch", "onnx"), default="torch",
                   help="run the network in PyTorch (default) or onnxruntime (with --onnx, pip install pcseg[onnx])")
    s.add_argument("--onnx", default=None, metavar="FILE", help="the model's export (pcseg export), for --runtime onnx")
    s.add_argument("--tta", action="store_true", help=TTA_HELP)
    s.set_defaults(handler="pcseg.engine.predict:cli")

    s = sub.add_parser("export", help="the network as ONNX for deployment, checked against PyTorch")
    which = s.add_mutually_exclusive_group(required=True)
    which.add_argument("--checkpoint", help="a checkpoint written by pcseg train")
    which.add_argument("--model", metavar="NAME", help="a bundled model (see pcseg models)")
    s.add_argument("--out", required=True, help="the .onnx file to write")
    s.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    s.add_argument("--points", type=int, default=None,
                   help="3D models: points per block of the example input (default the config's num_points); "
                        "the file accepts any number")
    s.set_defaults(handler="pcseg.engine.export:cli")

    s = sub.add_parser("models", help="the bundled models and their scores on real samples")
    s.add_argument("--json", action="store_true", help="machine-readable listing")
    s.set_defaults(handler="pcseg.pretrained:cli")

    for name, helptext in (("view", "Open3D window on a labelled cloud"),
                           ("render", "the same picture, headless, to a PNG")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("input")
        s.add_argument("--labels", default=None, help="predicted labels (.npy or .label)")
        s.add_argument("--gt", default=None, help="ground-truth labels (.npy or .label)")
        s.add_argument("--classes", choices=("s3dis", "semantickitti"), default=None,
                       help="class set of the labels (default: semantickitti for .label/.bin, else s3dis)")
        s.add_argument("--label-format", choices=("index", "learning", "raw"), default=None,
                       help="integers in .npy label files: index = pcseg class indices, -1 = ignore (default; "
                            "what segment writes); learning = learning ids 0..K, 0 = unlabeled (SemanticKITTI as "
                            "Open3D-ML / mmdetection3d store it); raw = raw SemanticKITTI ids (.label is always raw)")
        s.add_argument("--point-dims", type=int, default=None, metavar="N",
                       help="floats per point of a headerless .bin INPUT (see `pcseg segment --help`)")
        if name == "render":
            s.add_argument("--out", required=True)
            s.add_argument("--view", choices=("top", "oblique"), default="oblique")
            s.add_argument("--size", type=int, nargs=2, default=None, metavar=("W", "H"),
                           help="image size (default: 1280 960, or 1800 720 with --side-by-side)")
            s.add_argument("--side-by-side", action="store_true", help="prediction | ground truth | errors")
            s.add_argument("--channels", nargs="+", default=None, metavar="NAME",
                           help="range image .npy: one title per channel strip, e.g. the run's range.channels "
                                "(default: guessed from the channel count)")
        s.set_defaults(handler=f"pcseg.vis.commands:{name}")

    s = sub.add_parser("demo", help="the embedded default, end to end (synthetic rooms, train, eval)")
    s.add_argument("--out", default="demo_out")
    s.add_argument("--models", nargs="+", default=None,
                   help="models to run (default: every demo model but pointnet2 and point_transformer)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(handler="pcseg.engine.demo:cli")
    return p


# commands that write into the folder named by --out / OUT, and those that write one file there
_FOLDER_OUTPUTS = ("synth", "prepare", "segment", "eval", "demo")
_FILE_OUTPUTS = ("render",)


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse an output the command could not write (an existing file where a folder is wanted, a folder
    where a file is wanted, an unwritable place) before any work starts; nothing is created here."""
    from pcseg.utils import check_output_dir, check_output_file

    out = getattr(args, "out", None)
    if out is None:
        return
    if args.command in _FOLDER_OUTPUTS:
        check_output_dir(out)
    elif args.command in _FILE_OUTPUTS:
        check_output_file(out)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    # `key=value` overrides may follow options (`pcseg eval CONFIG --checkpoint C --out D train.device=cpu`),
    # which argparse does not hand to the `overrides` positional once it has matched it empty
    if extra and hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides = list(args.overrides or []) + extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    module, func = args.handler.split(":")
    try:
        _check_outputs(args)
        handler = getattr(importlib.import_module(module), func)
        return int(handler(args) or 0)
    except PcsegError as exc:
        print(f"pcseg: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the system refused a read or write (permissions, full disk, a vanished file)
        where = exc.filename if exc.filename is not None else args.command
        print(f"pcseg: error: {where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pcseg: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
