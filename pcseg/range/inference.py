"""Per-point class scores of a whole cloud from a range-image model.

``predict_scan(model, cloud, cfg, device) -> (N, K)`` scores for EVERY point of the cloud, so the one
ConfusionMatrix scores every point (never pixels):

1. The cloud is projected from the sensor origin (SemanticKITTI; with ``range.level_ground`` levelled on
   its ground plane first, pcseg.range.ground) or from each virtual viewpoint inside the room (S3DIS,
   pcseg.range.viewpoints), normalised as in training, and run through the network; the softmax gives
   (K, H, W) probabilities per view (with ``train.unweight_labels`` divided by the loss's class weights to
   the power ``train.unweight_power`` and renormalised, pcseg.engine.losses.unweighting).
2. Back to the points: with ``range.knn`` every point gets the votes of RangeNet++'s kNN post-processing
   (pcseg.range.backproject.knn_votes; also the points that lost their pixel to a closer one), otherwise the
   probabilities of its pixel. Per view the kNN scores are ``(votes + 0.01 [c = own]) / (k + 0.01)``: the
   votes decide and a tie goes to the class of the point's own pixel (the reference breaks ties towards the
   lower class index).
3. One view (LiDAR): these are the scores (with ``tta``, the mean of the view's and its mirror image's).
   Several views (rooms): a point's scores are the mean over the views that SEE it - its range is within
   ``range.visible_tolerance`` of its pixel's range, i.e. it is on the visible surface there, not behind it.
   A point no view sees (hidden behind furniture from every scanner) takes the scores of its nearest seen
   point (scipy cKDTree).
4. With ``range.smooth_cell`` the scores are smoothed in 3D (pcseg.range.smoothing): each point's blended
   with the mean over the points in the 3 x 3 x 3 cells around it, the classes of ``range.smooth_skip``
   (the ground) left out.

Memory: points are back-projected in chunks of ``CHUNK``; beside the cloud the function keeps an (N, K)
float32 sum, an (N,) count and the projection indices.

Threads: the per-point work (projection, back-projection, kNN) runs on one intra-op thread, the network on
torch's setting. These are many short memory-bound operations: on a busy machine, splitting each of them
across threads made them 5x slower (each waits for the slowest thread), while on one thread they are 4x
faster than the NumPy reference (tools/bench_range.py).
"""

from __future__ import annotations

import sys

import torch

from pcseg.config import Config
from pcseg.engine.losses import unweight, unweighting
from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.ops.interpolate import fill_from_nearest
from pcseg.range.backproject import knn_votes, pixel_scores
from pcseg.range.dataset import view_coords, view_values
from pcseg.range.projection import make_image, single_thread
from pcseg.range.spec import RangeSpec, range_spec
from pcseg.range.viewpoints import room_viewpoints

CHUNK = 1 << 20
TIE_BREAK = 0.01


def _check_model_size(model: torch.nn.Module, spec: RangeSpec) -> None:
    check = getattr(model, "check_size", None)
    if check is not None:
        try:
            check(spec.height, spec.width)
        except ValueError as exc:
            raise PcsegError("range.height/width", f"{type(model).__name__}: {exc}") from None


def network_probs(model: torch.nn.Module, image: torch.Tensor, device: torch.device, amp: bool = False) -> torch.Tensor:
    """Softmax of the model on one image.

    Shapes: image (C, H, W) -> (K, H, W) float32 on ``device``
    """
    x = image.unsqueeze(0).to(device)
    with torch.autocast(device.type, enabled=amp and device.type == "cuda"):
        logits = model(x)
    return torch.softmax(logits[0].float(), dim=0)


def view_scores(probs: torch.Tensor, proj, sl: slice, knn: dict | None,
                pred: torch.Tensor | None = None) -> torch.Tensor:
    """Scores of the points ``sl`` from one view's probabilities: kNN vote fractions (ties towards the
    point's own pixel class), or the pixel's probabilities. ``pred`` is ``probs.argmax(0)`` if the caller
    has it.

    Shapes: probs (K, H, W) -> (n, K) float32
    """
    px, py = proj.px[sl].to(probs.device), proj.py[sl].to(probs.device)
    if knn is None:
        return pixel_scores(probs, px, py)
    pred = probs.argmax(0) if pred is None else pred
    k = knn["k"]
    votes = knn_votes(proj.range.to(probs.device), pred, px, py, proj.point_range[sl].to(probs.device),
                      probs.shape[0], k=k, window=knn["window"], sigma=knn["sigma"], cutoff=knn["cutoff"])
    own = pred[py, px]
    votes[torch.arange(len(own), device=votes.device), own] += TIE_BREAK
    return votes.div_(k + TIE_BREAK)


def visible(proj, tolerance: float, sl: slice = slice(None)) -> torch.Tensor:
    """Points on the visible surface of a view: their range is within ``tolerance`` of their pixel's range
    (the pixel's closest point). Shapes: -> (n,) bool for the points ``sl``"""
    own_range = proj.range[proj.py[sl], proj.px[sl]]
    return (proj.point_range[sl] - own_range).abs() <= tolerance


def scanner_frame(cloud: Cloud, origin, spec: RangeSpec) -> torch.Tensor:
    """The cloud's points in the frame of a scanner at ``origin`` (None: the frame's own origin), levelled on
    their ground plane when ``spec.level_ground`` is set (pcseg.range.ground; a scan with no plausible ground
    is used as given, and one line says so).

    Shapes: -> (N, 3) float32
    """
    xyz = view_coords(cloud.coord, origin)
    if spec.level_ground is None:
        return xyz
    from pcseg.range.ground import HEIGHTS, MAX_TILT_DEG, level_on_ground

    xyz, ground = level_on_ground(xyz, spec.level_ground)
    if ground is None:
        print(f"pcseg: warning: {cloud.meta.get('source', 'input')}: no ground plane {HEIGHTS[0]:g}-"
              f"{HEIGHTS[1]:g} m below the sensor and within {MAX_TILT_DEG:g} deg of level; the scan is "
              f"labelled as given, not levelled", file=sys.stderr)
    return xyz


@torch.inference_mode()
def predict_scan(model: torch.nn.Module, cloud: Cloud, cfg: Config, device: torch.device | str,
                 tta: bool = False) -> torch.Tensor:
    """Class scores for every point of ``cloud`` (see the module docstring). The model is put in eval mode.
    ``tta``: each view is also seen mirrored (y -> -y, as training mirrors scans), and a point's scores are
    the mean of the two.

    Shapes: cloud of N points -> (N, K) float32 CPU tensor
    """
    device = torch.device(device)
    spec = range_spec(cfg, need_stats=True)
    n = len(cloud)
    if n == 0:
        raise PcsegError(cloud.meta.get("source", "input"), "cloud has no points")
    _check_model_size(model, spec)
    skip = smoothing_skip(cfg)              # a bad class name fails before the network runs
    model.eval()
    knn = None
    if cfg.range.knn:
        knn = {"k": int(cfg.range.knn_k), "window": int(cfg.range.knn_window), "sigma": float(cfg.range.knn_sigma),
               "cutoff": float(cfg.range.knn_cutoff)}
    amp = bool(cfg.train.amp)
    # one view from the sensor (cloud.meta["sensor_origin"] for scans stored in another frame, else the
    # frame's origin), or the room's virtual viewpoints
    origins = ([cloud.meta.get("sensor_origin")] if spec.viewpoints == 0
               else list(room_viewpoints(cloud.coord, spec.viewpoints, spec.viewpoint_height)))
    mirrors = (False, True) if tta else (False,)
    total: torch.Tensor | None = None
    seen_count = torch.zeros(n, dtype=torch.int32)
    for origin in origins:
        with single_thread():
            frame = scanner_frame(cloud, origin, spec)
        for i, mirror in enumerate(mirrors):
            with single_thread():
                xyz = view_coords(frame, mirror=mirror)
                if i == len(mirrors) - 1:
                    del frame         # not kept while the scores go back to the points (peak memory)
                proj, values = view_values(cloud, xyz, spec)
                image = make_image(proj, values, spec.mean, spec.std)
                del values, xyz
            probs = network_probs(model, image, device, amp)
            if cfg.train.unweight_labels:     # before the argmax and the kNN vote
                probs = unweight(probs, unweighting(cfg, probs.shape[0]), dim=0)
            if total is None:
                total = torch.zeros(n, probs.shape[0], dtype=torch.float32)
            with single_thread():
                pred = probs.argmax(0) if knn is not None else None
                for start in range(0, n, CHUNK):
                    sl = slice(start, min(n, start + CHUNK))
                    scores = view_scores(probs, proj, sl, knn, pred).cpu()
                    if len(origins) == 1:
                        total[sl] += scores
                        continue
                    seen = visible(proj, spec.visible_tolerance, sl)
                    total[sl][seen] += scores[seen]
                    seen_count[sl] += seen.to(torch.int32)
    assert total is not None
    if len(origins) == 1:
        if len(mirrors) > 1:
            total.div_(len(mirrors))
        return smoothed(cloud, total, cfg, skip)
    seen = seen_count > 0
    if not bool(seen.any()):
        raise PcsegError(cloud.meta.get("source", "input"), "no point is visible from any viewpoint")
    total[seen] /= seen_count[seen].unsqueeze(1).to(torch.float32)
    if not bool(seen.all()):
        total = fill_from_nearest(cloud.coord, total, seen.numpy())
    return smoothed(cloud, total, cfg, skip)


def smoothing_skip(cfg: Config) -> list[int]:
    """The class indices of ``range.smooth_skip``; PcsegError naming the key for a name the class set lacks."""
    from pcseg.classes import get_class_set

    names = get_class_set(cfg.data.dataset).names
    unknown = [n for n in cfg.range.smooth_skip if n not in names]
    if unknown:
        raise PcsegError("range.smooth_skip", f"unknown class {unknown[0]!r} for {cfg.data.dataset} "
                                              f"(classes: {', '.join(names)})")
    return [names.index(n) for n in cfg.range.smooth_skip]


def smoothed(cloud: Cloud, scores: torch.Tensor, cfg: Config, skip: list[int]) -> torch.Tensor:
    """``scores`` smoothed in 3D as ``range.smooth_cell`` / ``smooth_weight`` say (pcseg.range.smoothing),
    points of the classes ``skip`` left out, or as they are when ``smooth_cell`` is null."""
    if cfg.range.smooth_cell is None:
        return scores
    from pcseg.range.smoothing import smooth_scores

    with single_thread():
        return smooth_scores(torch.as_tensor(cloud.coord), scores, float(cfg.range.smooth_cell),
                             float(cfg.range.smooth_weight), skip)


__all__ = ["predict_scan", "smoothed", "smoothing_skip", "scanner_frame", "network_probs", "view_scores", "visible",
           "fill_from_nearest"]
