"""Class scores for EVERY point of a whole cloud (room or scan), for any registered model.

3D models: the cloud is cut into overlapping block columns (``data.block_size``, ``data.eval_stride``); every
point of every column is fed in chunks of ``data.num_points`` (pcseg.data.blocks.iter_eval_blocks, padded
chunks repeat points); the softmax probabilities of all the chunks a point appears in are averaged. A point
that no chunk covered (not expected with iter_eval_blocks, kept as a guard) takes the scores of its nearest
covered neighbour (scipy cKDTree). Memory: blocks are processed in batches of ``train.batch_size`` and only
the (N, K) float32 score sum plus an (N,) count are kept, so 10M points need about 0.6 GB beside the cloud.

2D models: pcseg.range.inference.predict_scan(model, cloud, cfg, device).
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Iterable

import numpy as np
import torch

from pcseg.config import Config
from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.ops.interpolate import fill_from_nearest


def grey(n: int) -> np.ndarray:
    """(n, 3) float32 mid-grey: the colour a 3D model trained with rgb gets for a cloud without colour, the
    one colour dropout shows it in training (pcseg.data.transforms.RandomColorDrop)."""
    from pcseg.data.transforms import RandomColorDrop

    return np.full((n, 3), RandomColorDrop.GREY, dtype=np.float32)


def prepare_inputs(cloud: Cloud, features: list[str] | tuple[str, ...], where: str = "input") -> Cloud:
    """Make ``cloud`` carry what the model's input features need: a cloud without colour gets mid-grey
    (with a one-line warning) when ``rgb`` is among the features."""
    if "rgb" in features and cloud.color is None:
        print(f"pcseg: warning: {where}: no colour; using grey (the model was trained with rgb)", file=sys.stderr)
        cloud = dataclasses.replace(cloud, color=grey(len(cloud)))
    return cloud


# test-time augmentation of the 3D models: every chunk is also seen turned about z by these angles (training
# turns blocks by any angle, pcseg.data.transforms.RandomRotateZ), and its softmax is the mean of the turns
TTA_TURNS_DEG = (0, 90, 180, 270)


@torch.inference_mode()
def predict_cloud(model: torch.nn.Module, cloud: Cloud, cfg: Config, device: torch.device | str,
                  batch_size: int | None = None, tta: bool = False) -> torch.Tensor:
    """Per-point class scores of a whole cloud.

    The model is put in eval mode. ``batch_size`` (blocks per forward pass) defaults to
    ``cfg.train.batch_size``. ``tta``: test-time augmentation, the mean of the scores of transformed copies
    (3D models: each chunk turned about z by ``TTA_TURNS_DEG``; range models: each view also mirrored), at
    four or two times the network cost.

    Shapes: cloud of N points -> (N, K) float32 CPU tensor (3D: averaged softmax probabilities).
    """
    from pcseg.engine.data import family

    device = torch.device(device)
    model.eval()
    if family(cfg) == "2d":
        try:
            from pcseg.range.inference import predict_scan
        except ImportError:
            raise PcsegError("model.name", f"{cfg.model.name!r} is a range-image model, and the range-image "
                                           "branch (pcseg.range.inference) is not available") from None
        return predict_scan(model, cloud, cfg, device, tta=tta).float().cpu()
    return _predict_blocks(model, cloud, cfg, device, batch_size or cfg.train.batch_size, tta)


def _predict_blocks(model: torch.nn.Module, cloud: Cloud, cfg: Config, device: torch.device,
                    batch_size: int, tta: bool = False) -> torch.Tensor:
    from pcseg.data.blocks import iter_eval_blocks

    n = len(cloud)
    if n == 0:
        raise PcsegError(cloud.meta.get("source", "input"), "cloud has no points")
    cloud = prepare_inputs(cloud, cfg.data.features, str(cloud.meta.get("source", "input")))
    blocks = iter_eval_blocks(cloud, block_size=cfg.data.block_size, stride=cfg.data.eval_stride,
                              num_points=cfg.data.num_points, features=tuple(cfg.data.features))
    scores, counts = accumulate_scores(model, blocks, n, cfg, device, batch_size,
                                       str(cloud.meta.get("source", "input")), tta)
    covered = counts > 0
    scores /= counts.clamp(min=1).unsqueeze(1).to(torch.float32)         # in place: no (N, K) copy
    if not bool(covered.all()):
        scores = fill_from_nearest(cloud.coord, scores, covered.numpy())
    return scores


def _turned(feats: torch.Tensor, coord: torch.Tensor, features: Iterable[str], degrees: int
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of chunks turned about z by a multiple of 90 degrees, as RandomRotateZ turns a training block:
    the block-local coordinates and the channels made from them (``xyz``, ``normal``), not ``xyz_norm``.

    Shapes: feats (B, C, M), coord (B, M, 3) -> the same
    """
    from pcseg.data.blocks import FEATURE_CHANNELS

    quarter = (degrees // 90) % 4
    if quarter == 0:
        return feats, coord

    def turn(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return ((x, y), (-y, x), (-x, -y), (y, -x))[quarter]

    x, y = turn(coord[..., 0], coord[..., 1])          # new tensors from the old values: no aliasing
    coord = torch.stack([x, y, coord[..., 2]], dim=-1)
    channels = list(feats.unbind(1))
    offset = 0
    for f in features:
        if f in ("xyz", "normal"):
            channels[offset], channels[offset + 1] = turn(channels[offset], channels[offset + 1])
        offset += FEATURE_CHANNELS[f]
    return torch.stack(channels, dim=1), coord


def accumulate_scores(model: torch.nn.Module, blocks: Iterable[dict[str, np.ndarray]], n: int, cfg: Config,
                      device: torch.device, batch_size: int, where: str, tta: bool = False
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the evaluation chunks ``blocks`` (pcseg.data.blocks.iter_eval_blocks) through the model in
    batches and sum each point's softmax probabilities (with ``tta`` a chunk's probabilities are the mean
    over its turns, ``TTA_TURNS_DEG``; with ``train.unweight_labels`` divided by the loss's class weights to
    the power ``train.unweight_power``).

    Shapes: -> scores (n, K) float32 sums, counts (n,) int32 (chunks that held the point, padding excluded).
    """
    from pcseg.data.blocks import batch_eval_blocks
    from pcseg.engine.losses import unweight, unweighting

    scores: torch.Tensor | None = None
    counts = torch.zeros(n, dtype=torch.int32)
    use_amp = device.type == "cuda" and cfg.train.amp
    try:
        for batch in batch_eval_blocks(blocks, batch_size):
            feats = torch.from_numpy(batch["features"]).to(device, non_blocking=True)
            coord = torch.from_numpy(batch["coord"]).to(device, non_blocking=True)
            prob = None
            for degrees in TTA_TURNS_DEG if tta else (0,):
                f, c = _turned(feats, coord, cfg.data.features, degrees)
                with torch.autocast(device.type, enabled=use_amp):
                    logits = model(f, c)                                  # (B, K, M)
                p = torch.softmax(logits.float(), dim=1)
                prob = p if prob is None else prob.add_(p)
            assert prob is not None
            if tta:
                prob.div_(len(TTA_TURNS_DEG))
            if cfg.train.unweight_labels:
                prob = unweight(prob, unweighting(cfg, prob.shape[1]), dim=1)
            k = prob.shape[1]
            prob = prob.permute(0, 2, 1).reshape(-1, k).cpu()
            real = torch.from_numpy(~batch["pad"].reshape(-1))            # padding repeats are not counted
            index = torch.from_numpy(batch["index"].reshape(-1))[real]
            if scores is None:
                scores = torch.zeros(n, k, dtype=torch.float32)
            scores.index_add_(0, index, prob[real])
            counts.index_add_(0, index, torch.ones(len(index), dtype=torch.int32))
    except ValueError as exc:          # blocks.py: a feature the cloud cannot provide, a bad stride
        raise PcsegError(where, str(exc)) from None
    if scores is None:
        raise PcsegError(where, "no evaluation blocks were produced")
    return scores, counts


__all__ = ["predict_cloud", "accumulate_scores", "fill_from_nearest", "prepare_inputs"]
