"""``pcseg export (--checkpoint CKPT | --model NAME) --out model.onnx``: a trained network as ONNX, checked
against PyTorch right after it is written.

What the file holds (opset ``--opset``, default 17, the TorchScript-based exporter ``torch.onnx.export(...,
dynamo=False)``: it needs no extra package beyond ``onnx`` and traces these convolutional networks exactly):

- 3D models: inputs ``features`` (B, C, N) float32 and ``coord`` (B, N, 3) float32 (a model that does not
  read ``coord``, as PointNet, has ``features`` only), output ``logits`` (B, K, N); batch size B and points
  per block N are dynamic. The blocks are cut from the cloud by pcseg (pcseg.data.blocks), as in training.
- Range-image models: input ``image`` (B, C, H, W) float32, already normalised, output ``logits``
  (B, K, H, W); B is dynamic, H and W are the training projection's. Projection and back-projection stay in
  pcseg around the network (``pcseg segment --runtime onnx``).
- ``metadata_props`` make the file self-describing: ``pcseg_model``, ``pcseg_family``, ``pcseg_class_set``,
  ``pcseg_class_names`` (JSON), ``pcseg_inputs`` (JSON: name -> shape with symbolic axes), and for 3D models
  ``pcseg_features``, ``pcseg_block_size``, ``pcseg_num_points``; for range models ``pcseg_range`` (JSON:
  height, width, field of view, channels, mean, std).

Verification: onnxruntime and PyTorch run the same inputs (two batches of different size, and for 3D models
two block sizes); the predicted labels must agree on at least 99.9 % of points and the logits within
``ATOL``. The figures are printed; a failed check is exit 2 and leaves no file.

A-CNN, PointNet++ and Point Transformer cannot be exported yet: their farthest-point sampling, ring queries,
neighbour ordering and graph building are data-dependent loops run by compiled kernels (pcseg.ops) that the
tracer cannot follow.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from pcseg.engine.onnx_runtime import need_onnx, session
from pcseg.errors import PcsegError

OPSET = 17
ATOL = 1e-3            # max |logit difference| accepted between onnxruntime and PyTorch
MIN_AGREEMENT = 0.999  # share of points whose predicted label must agree

# models whose graph the exporter cannot follow, and why (one line each)
UNEXPORTABLE = {
    "acnn": "farthest-point sampling, ring queries and neighbour ordering are data-dependent loops in compiled "
            "kernels (pcseg.ops) with no ONNX form",
    "pointnet2": "farthest-point sampling and radius / kNN graphs are built by compiled kernels (pcseg.ops.pyg) "
                 "with no ONNX form",
    "point_transformer": "farthest-point sampling and kNN graphs are built by compiled kernels "
                         "(pcseg.ops.pyg) with no ONNX form",
}


def _example_inputs(family: str, cfg: Any, in_channels: int, batch: int, points: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    if family == "3d":
        # block-like inputs: block-centred xyz in [-0.5, 0.5] m, other channels in [0, 1]
        features = rng.random((batch, in_channels, points), dtype=np.float32)
        features[:, :3] -= 0.5
        coord = np.ascontiguousarray(features[:, :3].transpose(0, 2, 1))
        return {"features": features, "coord": coord}
    from pcseg.range.spec import range_spec

    spec = range_spec(cfg, need_stats=False)
    return {"image": rng.standard_normal((batch, in_channels, spec.height, spec.width)).astype(np.float32)}


def _metadata(ckpt: dict[str, Any], cfg: Any, family: str, inputs: dict[str, list]) -> dict[str, str]:
    import pcseg

    meta = {"pcseg_version": getattr(pcseg, "__version__", "unknown"), "pcseg_model": ckpt["model"],
            "pcseg_family": family, "pcseg_class_set": str(ckpt.get("class_set", cfg.data.dataset)),
            "pcseg_class_names": json.dumps(list(ckpt["class_names"])), "pcseg_inputs": json.dumps(inputs),
            "pcseg_outputs": json.dumps({"logits": ["batch", "classes"] + (["points"] if family == "3d"
                                                                          else ["height", "width"])})}
    if family == "3d":
        meta.update({"pcseg_features": json.dumps(list(cfg.data.features)),
                     "pcseg_block_size": str(cfg.data.block_size), "pcseg_num_points": str(cfg.data.num_points)})
    else:
        from pcseg.range.spec import range_spec

        spec = range_spec(cfg, need_stats=False)
        meta["pcseg_range"] = json.dumps({"height": spec.height, "width": spec.width, "fov_up": cfg.range.fov_up,
                                          "fov_down": cfg.range.fov_down, "channels": list(spec.channels),
                                          "mean": list(spec.mean or []), "std": list(spec.std or [])})
    return meta


def compare(model: Any, sess: Any, inputs: dict[str, np.ndarray]) -> tuple[float, float, int]:
    """Run PyTorch and onnxruntime on the same inputs: (label agreement, max |logit diff|, points)."""
    import torch

    names = [i.name for i in sess.get_inputs()]
    with torch.inference_mode():
        ref = model(*[torch.from_numpy(v) for v in inputs.values()]).numpy()
    out = sess.run(["logits"], {n: inputs[n] for n in names})[0]
    agree = float((out.argmax(1) == ref.argmax(1)).mean())
    return agree, float(np.abs(out - ref).max()), int(ref[:, 0].size)


def export(checkpoint: str | Path, out: str | Path, opset: int = OPSET, points: int | None = None) -> dict[str, Any]:
    """Write the checkpoint's network to ``out`` as ONNX and verify it (module docstring). Returns a report
    {"inputs", "dynamic", "checks": [(agreement, max diff, points), ...]}."""
    import torch

    from pcseg.engine.checkpoint import load_checkpoint
    from pcseg.engine.data import family as model_family
    from pcseg.engine.predict import load_for_inference
    from pcseg.utils import atomic_path

    onnx, _ = need_onnx()
    out = Path(out)
    if out.is_dir():
        raise PcsegError(out, "is a folder; --out names the .onnx file to write")
    ckpt = load_checkpoint(checkpoint)
    model, cfg, _, _ = load_for_inference(checkpoint, device="cpu", ckpt=ckpt)
    name = ckpt["model"]
    if name in UNEXPORTABLE:
        raise PcsegError(checkpoint, f"{name!r} cannot be exported to ONNX: {UNEXPORTABLE[name]}")
    family = model_family(cfg)
    in_channels = int(ckpt["model_args"]["in_channels"])
    n = int(points or cfg.data.num_points)
    example = _example_inputs(family, cfg, in_channels, 2, n)
    if family == "3d":
        dynamic = {"features": {0: "batch", 2: "points"}, "coord": {0: "batch", 1: "points"},
                   "logits": {0: "batch", 2: "points"}}
        shapes = {"features": ["batch", in_channels, "points"], "coord": ["batch", "points", 3]}
    else:
        dynamic = {"image": {0: "batch"}, "logits": {0: "batch"}}
        shapes = {"image": ["batch", in_channels, example["image"].shape[2], example["image"].shape[3]]}
    checks = []
    with atomic_path(out) as tmp:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(model, tuple(torch.from_numpy(v) for v in example.values()), str(tmp),
                                  input_names=list(example), output_names=["logits"], dynamic_axes=dynamic,
                                  opset_version=opset, dynamo=False)
        except Exception as exc:   # the exporter raises many types; its first line names the op
            raise PcsegError(checkpoint, f"ONNX export of {name!r} failed: "
                                         f"{str(exc).strip().splitlines()[0][:300]}") from None
        proto = onnx.load(str(tmp))
        kept = [i.name for i in proto.graph.input]
        for key, value in _metadata(ckpt, cfg, family, {k: v for k, v in shapes.items() if k in kept}).items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(proto, str(tmp))
        sess = session(tmp)
        variants = [example, _example_inputs(family, cfg, in_channels, 3, max(16, n // 2) if family == "3d" else n)]
        for inputs in variants:
            agree, diff, count = compare(model, sess, inputs)
            checks.append((agree, diff, count))
            if agree < MIN_AGREEMENT or diff > ATOL:
                raise PcsegError(out, f"onnxruntime disagrees with PyTorch: labels agree on {100 * agree:.3f} % "
                                      f"of {count:,} points, max |logit diff| {diff:.2e} (needs >= "
                                      f"{100 * MIN_AGREEMENT:.1f} % and <= {ATOL:g}); no file written")
    return {"inputs": {k: v for k, v in shapes.items() if k in kept}, "dynamic": dynamic, "checks": checks,
            "opset": opset, "model": name}


def cli(args: argparse.Namespace) -> int:
    checkpoint = args.checkpoint
    if checkpoint is None:
        from pcseg.pretrained import bundled_checkpoint

        checkpoint = bundled_checkpoint(args.model)
    if args.points is not None and args.points < 1:
        raise PcsegError("--points", f"must be >= 1, got {args.points}")
    report = export(checkpoint, args.out, opset=args.opset, points=args.points)
    ins = ", ".join(f"{k} ({', '.join(str(d) for d in v)})" for k, v in report["inputs"].items())
    print(f"wrote {args.out} ({report['model']}, opset {report['opset']}; inputs {ins}; output logits)")
    for agree, diff, count in report["checks"]:
        print(f"  onnxruntime vs PyTorch: labels agree on {100 * agree:.3f} % of {count:,} points, "
              f"max |logit diff| {diff:.1e}")
    return 0


__all__ = ["export", "session", "compare", "cli", "UNEXPORTABLE", "OPSET", "ATOL", "MIN_AGREEMENT"]
