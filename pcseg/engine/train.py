"""``pcseg train CONFIG [key=value ...]``: train any registered model, validate on whole rooms/scans.

Run folder (``train.out``):
    config.yaml          the resolved config
    last.pt              written after every epoch (and on Ctrl-C, mid-epoch), resumable with resume=last.pt
    best.pt              the checkpoint with the best validation mIoU so far
    averaged.pt          with ``train.average_from``: the mean of the weights of every step from that epoch
                         on, batch-norm statistics recomputed, validated (pcseg.engine.averaging); written
                         at the end of the run, with no optimiser state (for eval, segment and packing)
    metrics.jsonl        one JSON object per epoch: epoch, step, loss, lr, points_per_s, seconds,
                         val_miou, val_oa, val_macc, val_fwiou, val_iou {class: IoU}, val_points
    val_epoch_XXX.txt    the per-class table of each validation (val_averaged.txt: averaged.pt's)
    curves.png, confusion.png   learning curves and the latest validation confusion matrix (pcseg.vis)
    tb/                  TensorBoard scalars, only when the tensorboard package is installed

Determinism (CPU): every epoch's data order and augmentation come from (seed, epoch) - DistributedSampler's
permutation seeded with seed + epoch, BlockDataset.set_epoch(epoch) - and the torch RNG (dropout) is
reseeded from (seed, epoch, rank) at the start of each epoch, so a run resumed from an epoch checkpoint
repeats exactly what the uninterrupted run does; torch.use_deterministic_algorithms(warn_only) is on.

Resume: ``resume=PATH`` restores model, optimiser, scheduler, AMP scaler, epoch, step, the RNG states
(torch, numpy, python, the DataLoader generator), the best metric and the metrics history (metrics.jsonl is
rewritten from it, so lines of an epoch that was lost to a crash do not stay behind). Ctrl-C lets the
current step finish, saves a mid-epoch ``last.pt`` recording the batches already done (resume skips them
and restores the RNG state, so it too continues exactly), prints one line and exits with status 130. A
second Ctrl-C stops at once. A SIGKILL loses at most the current epoch: last.pt is replaced atomically.

Mixed precision: float16 autocast with a gradient scaler on CUDA (``train.amp``, default on); bfloat16 autocast
on CPU with ``train.cpu_amp`` (off by default: fast only on CPUs with bfloat16 instructions). Weights,
optimiser state, the loss and validation stay float32.

Distributed: under torchrun each process trains on its DistributedSampler share with batch size
``train.batch_size // world_size`` (the config's batch size is the global one), gradients are averaged by
DistributedDataParallel, validation rooms are split across ranks and the confusion matrices summed with
ConfusionMatrix.all_reduce; only rank 0 writes files and shows progress.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pcseg.config import Config, config_to_dict, load_config, save_config
from pcseg.errors import PcsegError
from pcseg.engine.reporting import call_vis, json_safe  # noqa: F401 - re-exported for callers of train
from pcseg.utils import atomic_write_text, check_output_dir, output_dir

def seed_for(*parts: int) -> int:
    """A 32-bit seed derived from integers (numpy SeedSequence), e.g. (seed, epoch, rank)."""
    return int(np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(1)[0])


def _worker_init(worker_id: int) -> None:
    # DataLoader workers: numpy/python RNG from torch's per-worker seed (itself from the loader generator);
    # Ctrl-C is handled by the main process, which then shuts the workers down.
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _StopFlag:
    """First SIGINT: ask the loop to stop at the next step boundary. Second: KeyboardInterrupt now."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\npcseg: stopping after the current step (Ctrl-C again to stop now)", file=sys.stderr)

    def restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


@dataclass
class TrainResult:
    out: Path
    epochs: int                       # completed epochs
    step: int
    best_miou: float | None
    best_epoch: int | None
    history: list[dict] = field(default_factory=list)
    train_seconds: float = 0.0
    points_seen: int = 0
    interrupted: bool = False


def _optimizer(cfg: Config, params: Any) -> torch.optim.Optimizer:
    o = cfg.optim
    if o.name == "adam":
        return torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)
    if o.name == "adamw":
        return torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
    if o.name == "sgd":
        return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
    raise PcsegError("optim.name", f"must be adam, adamw or sgd, got {o.name!r}")


def _lr_factor(cfg: Config):
    o = cfg.optim
    if o.lr_decay_steps <= 0:
        raise PcsegError("optim.lr_decay_steps", f"must be positive, got {o.lr_decay_steps}")
    floor = o.min_lr / o.lr if o.lr > 0 else 0.0

    if o.schedule == "cosine":
        def cosine(step: int) -> float:
            # cosine annealing (Loshchilov & Hutter, SGDR, ICLR 2017) without restarts, held at the floor after
            t = min(step / o.lr_decay_steps, 1.0)
            return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * t))
        return cosine

    def factor(step: int) -> float:
        # staircase step decay, clipped from below (charlesq34/pointnet sem_seg/train.py get_learning_rate)
        return max(o.lr_decay_rate ** (step // o.lr_decay_steps), floor)
    return factor


def _bn_momentum(cfg: Config):
    """The batch-norm momentum after ``step`` optimiser steps (``optim.bn_momentum``), or None: leave it."""
    o = cfg.optim
    if o.bn_momentum is None:
        return lambda step: None

    def momentum(step: int) -> float:
        # PyTorch's momentum is 1 - TF's decay: the references' min(0.99, 1 - 0.5 * 0.5 ** k) becomes this
        return max(o.bn_momentum * o.bn_momentum_rate ** (step // o.lr_decay_steps), o.bn_momentum_min)
    return momentum


def _val_fields(cm: Any) -> dict[str, Any]:
    """A validation's entries in an epoch's metrics record (metrics.jsonl, a checkpoint's history)."""
    return {"val_miou": cm.miou, "val_oa": cm.oa, "val_macc": cm.macc, "val_fwiou": cm.fwiou,
            "val_iou": cm.to_dict()["iou"], "val_points": cm.num_points}


def _write_metrics(path: Path, history: list[dict]) -> None:
    atomic_write_text(path, "".join(json.dumps(rec) + "\n" for rec in history))


def _cpu_has_bf16() -> bool:
    """Whether oneDNN finds bfloat16 instructions on this CPU (False when it cannot tell)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _tensorboard(out: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(out / "tb"))


def train(cfg: Config, show_progress: bool = True) -> TrainResult:
    """Train according to ``cfg``; returns what happened (see TrainResult). Raises PcsegError on bad input."""
    from torch.utils.data import DataLoader, DistributedSampler
    from tqdm import tqdm

    from pcseg.engine import distributed as dist_util
    from pcseg.engine.averaging import WeightAverage, batch_norms
    from pcseg.engine.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
    from pcseg.engine.data import build_datasets, class_set, family, model_args
    from pcseg.engine.evaluate import score_clouds
    from pcseg.engine.losses import build_loss, class_weights, unweighting
    from pcseg.models import create_model

    t_start = time.time()
    info = dist_util.setup(cfg.train.device)
    device = info.device
    seed = cfg.train.seed
    fam = family(cfg)
    classes = class_set(cfg)
    out = check_output_dir(cfg.train.out)    # an unusable run folder is refused before any data is read
    if cfg.train.average_from > cfg.train.epochs:
        raise PcsegError("train.average_from", f"must be at most train.epochs ({cfg.train.epochs}), "
                                               f"got {cfg.train.average_from}")
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    torch.manual_seed(seed)
    np.random.seed(seed_for(seed, 0xDA7A))
    random.seed(seed)

    # resume first: a bad checkpoint should fail before the data is built
    ckpt = None
    if cfg.train.resume:
        ckpt = load_checkpoint(cfg.train.resume, model=cfg.model.name, num_classes=classes.num_classes)

    dataset, val = build_datasets(cfg, seed)
    per_rank_batch = max(1, cfg.train.batch_size // info.world_size)
    if len(dataset) < per_rank_batch * info.world_size:
        raise PcsegError(cfg.data.root, f"only {len(dataset)} training samples for a batch of "
                                        f"{per_rank_batch} x {info.world_size} process(es)")

    args = model_args(cfg)
    try:
        net = create_model(cfg.model.name, **args)
    except TypeError as exc:
        raise PcsegError("model.args", f"{cfg.model.name}: {exc}") from None
    net.to(device)
    if fam != "3d":
        # image networks train channels-last (NHWC), the layout oneDNN's and cuDNN's convolutions prefer: the
        # same arithmetic, and the bundled lidar network's step takes 0.70 s against 0.76 s contiguous on 2 CPU
        # cores (tools/bench_range_step.py)
        net.to(memory_format=torch.channels_last)
    model: torch.nn.Module = net
    if info.enabled:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = _optimizer(cfg, net.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_factor(cfg))
    bn_momentum = _bn_momentum(cfg)
    norms = batch_norms(net)
    use_amp = device.type == "cuda" and cfg.train.amp
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    cpu_bf16 = device.type == "cpu" and cfg.train.cpu_amp     # no scaler: bfloat16 keeps float32's range
    if cpu_bf16 and info.is_main and not _cpu_has_bf16():
        print("pcseg: train.cpu_amp: this CPU has no bfloat16 instructions (AVX512-BF16, AMX); "
              "bfloat16 is emulated, likely slower than float32")
    counts = getattr(dataset, "class_counts", None)
    weights = class_weights(counts, cfg.train.class_weights) if cfg.train.class_weights != "none" else None
    if cfg.train.class_weights != "none" and counts is None:
        raise PcsegError("train.class_weights", "the training dataset does not report class counts")
    if cfg.train.unweight_labels and weights is None:
        raise PcsegError("train.unweight_labels", "divides labels by the loss's class weights; set "
                                                  "train.class_weights (inverse_sqrt) too")
    # the weights go into the config (config.yaml, checkpoints), as labelling may divide by them
    cfg.train.class_weight_values = None if weights is None else [round(float(v), 6) for v in weights]
    if weights is not None:
        unweighting(cfg, len(weights))        # a bad train.unweight_power fails now, not at the first validation
    loss_fn = build_loss(cfg.train.loss, None if weights is None else torch.from_numpy(weights),
                         cfg.train.lovasz_points)
    loader_gen = torch.Generator()
    averager = WeightAverage() if cfg.train.average_from else None

    start_epoch, step, history = 0, 0, []
    best_miou: float | None = None
    best_epoch: int | None = None
    partial: dict | None = None
    if ckpt is not None:
        where = cfg.train.resume
        try:
            net.load_state_dict(ckpt["state_dict"])
            optimizer.load_state_dict(ckpt["optimizer"])
            scheduler.load_state_dict(ckpt["scheduler"])
            if "scaler" in ckpt and use_amp:
                scaler.load_state_dict(ckpt["scaler"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise PcsegError(where, f"cannot resume from this checkpoint: {str(exc).splitlines()[0][:200]}") from None
        start_epoch, step = int(ckpt["epoch"]), int(ckpt["step"])
        history = list(ckpt.get("history", []))
        best_miou, best_epoch = ckpt.get("best_miou"), ckpt.get("best_epoch")
        partial = ckpt.get("partial")
        if partial is not None and int(partial.get("world_size", 1)) != info.world_size:
            raise PcsegError(where, "a mid-epoch checkpoint must be resumed with the same number of processes")
        if "rng" in ckpt:
            set_rng_state(ckpt["rng"], loader_gen)
        if averager is not None and "average" in ckpt:
            averager.load_state_dict(ckpt["average"], device)
        if info.is_main:
            print(f"pcseg: resuming {where} at epoch {start_epoch}"
                  + (f" + {partial['batches']} batches" if partial else "") + f", step {step}")

    stop = _StopFlag()          # from here on, Ctrl-C ends with a resumable last.pt
    writer = None
    if info.is_main:
        output_dir(out)
        save_config(cfg, out / "config.yaml")
        _write_metrics(out / "metrics.jsonl", history)
        writer = _tensorboard(out)

    def state(epoch_done: int, partial_state: dict | None) -> dict:
        st = {
            "model": cfg.model.name, "model_args": args, "class_set": classes.name,
            "class_names": list(classes.names), "config": config_to_dict(cfg), "family": fam,
            "epoch": epoch_done, "step": step, "state_dict": net.state_dict(),
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "rng": rng_state(loader_gen), "best_miou": best_miou, "best_epoch": best_epoch,
            "history": json_safe(history), "partial": partial_state,
        }
        if use_amp:
            st["scaler"] = scaler.state_dict()
        if averager is not None and averager.count:
            st["average"] = averager.state_dict()
        return st

    def forward(m: torch.nn.Module, batch: dict) -> torch.Tensor:
        if fam == "3d":
            return m(batch["features"].to(device, non_blocking=True), batch["coord"].to(device, non_blocking=True))
        return m(batch["image"].to(device, non_blocking=True).contiguous(memory_format=torch.channels_last))

    result = TrainResult(out=out, epochs=start_epoch, step=step, best_miou=best_miou, best_epoch=best_epoch,
                         history=history)
    train_seconds, points_seen = 0.0, 0
    try:
        for epoch in range(start_epoch, cfg.train.epochs):
            resume_here = partial is not None and int(partial["epoch"]) == epoch
            skip = int(partial["batches"]) if resume_here else 0
            if not resume_here:
                torch.manual_seed(seed_for(seed, epoch, info.rank))
                loader_gen.manual_seed(seed_for(seed, epoch, 0x10AD))
            sampler = DistributedSampler(dataset, num_replicas=info.world_size, rank=info.rank, shuffle=True,
                                         seed=seed, drop_last=False)
            sampler.set_epoch(epoch)
            indices = list(iter(sampler))
            n_batches = len(indices) // per_rank_batch            # drop_last, as the reference
            if cfg.train.max_steps_per_epoch is not None:
                n_batches = min(n_batches, cfg.train.max_steps_per_epoch)
            indices = indices[skip * per_rank_batch: n_batches * per_rank_batch]
            if hasattr(dataset, "set_epoch"):
                dataset.set_epoch(epoch)
            loader = DataLoader(dataset, batch_size=per_rank_batch, sampler=indices, drop_last=True,
                                num_workers=cfg.data.num_workers, worker_init_fn=_worker_init,
                                generator=loader_gen, pin_memory=device.type == "cuda",
                                persistent_workers=False)
            mine = partial["ranks"][info.rank] if resume_here else None
            if mine is not None:
                torch.set_rng_state(mine["torch_rng"])
            loss_sum = float(mine["loss_sum"]) if mine is not None else 0.0
            loss_count = int(mine["loss_count"]) if mine is not None else 0
            ep_points = int(partial["points"]) if resume_here else 0
            ep_seconds = float(partial["seconds"]) if resume_here else 0.0
            partial = None
            done = skip
            model.train()
            bar = tqdm(total=n_batches, initial=skip, desc=f"epoch {epoch + 1}/{cfg.train.epochs}",
                       disable=not (info.is_main and show_progress), dynamic_ncols=True, leave=False,
                       file=sys.stderr)
            t0 = time.perf_counter()
            interrupted = False
            it = iter(loader)
            while done < n_batches:
                if dist_util.any_true(stop.requested):
                    interrupted = True
                    break
                batch = next(it)
                label = batch["label"].to(device, non_blocking=True)
                bn = bn_momentum(step)
                if bn is not None:
                    for m in norms:
                        m.momentum = bn
                with torch.autocast(device.type, dtype=torch.bfloat16 if cpu_bf16 else None,
                                    enabled=use_amp or cpu_bf16):
                    logits = forward(model, batch)
                    loss = loss_fn(logits.float(), label)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                step += 1
                if averager is not None and epoch + 1 >= cfg.train.average_from:
                    averager.update(net)
                done += 1
                loss_sum += float(loss.detach())
                loss_count += 1
                ep_points += label.numel() * info.world_size
                now = time.perf_counter()
                ep_seconds += now - t0
                t0 = now
                if done % max(1, cfg.train.log_every) == 0 or done == n_batches:
                    bar.set_postfix(loss=f"{loss_sum / loss_count:.3f}", lr=f"{optimizer.param_groups[0]['lr']:.2g}",
                                    pts_s=f"{ep_points / max(ep_seconds, 1e-9):.3g}")
                    if writer is not None:
                        writer.add_scalar("train/loss", float(loss.detach()), step)
                        writer.add_scalar("train/lr", optimizer.param_groups[0]["lr"], step)
                bar.update(1)
            bar.close()
            del it, loader
            train_seconds += ep_seconds
            points_seen += ep_points
            if interrupted:
                # every rank's running loss and dropout RNG, so that each rank continues exactly
                ranks = dist_util.gather_objects({"loss_sum": loss_sum, "loss_count": loss_count,
                                                  "torch_rng": torch.get_rng_state()})
                if info.is_main:
                    save_checkpoint(out / "last.pt", state(epoch, {
                        "epoch": epoch, "batches": done, "points": ep_points, "seconds": ep_seconds,
                        "world_size": info.world_size, "ranks": ranks}))
                    print(f"pcseg: interrupted in epoch {epoch + 1} after {done}/{n_batches} batches; saved "
                          f"{out / 'last.pt'} (continue with resume={out / 'last.pt'})", file=sys.stderr)
                dist_util.barrier()
                result.interrupted = True
                break

            mean_loss = dist_util.mean_over_ranks([loss_sum / max(loss_count, 1)])[0]
            record: dict[str, Any] = {
                "epoch": epoch + 1, "step": step, "loss": mean_loss, "lr": optimizer.param_groups[0]["lr"],
                "points_per_s": ep_points / max(ep_seconds, 1e-9), "seconds": ep_seconds,
            }
            validate = cfg.train.val_every > 0 and ((epoch + 1) % cfg.train.val_every == 0
                                                    or epoch + 1 == cfg.train.epochs)
            cm = None
            if validate and val:
                tv = time.perf_counter()
                cm = score_clouds(net, val[info.rank::info.world_size], cfg, device)
                cm.all_reduce()
                record.update(_val_fields(cm), val_seconds=time.perf_counter() - tv)
                if best_miou is None or cm.miou > best_miou:
                    best_miou, best_epoch = float(cm.miou), epoch + 1
            record = json_safe(record)
            history.append(record)
            if info.is_main:
                st = state(epoch + 1, None)
                save_checkpoint(out / "last.pt", st)
                if best_epoch == epoch + 1 and cm is not None:
                    save_checkpoint(out / "best.pt", st)
                _write_metrics(out / "metrics.jsonl", history)
                line = (f"epoch {epoch + 1}/{cfg.train.epochs}  step {step}  loss {mean_loss:.4f}  "
                        f"{record['points_per_s']:.0f} points/s")
                if cm is not None:
                    atomic_write_text(out / f"val_epoch_{epoch + 1:03d}.txt", cm.table() + "\n")
                    line += f"  val mIoU {100 * cm.miou:.1f}  OA {100 * cm.oa:.1f}  mAcc {100 * cm.macc:.1f}"
                    call_vis("plots", "save_confusion_matrix", cm.matrix, list(classes.names), out / "confusion.png")
                    if writer is not None:
                        for key in ("miou", "oa", "macc", "fwiou"):
                            writer.add_scalar(f"val/{key}", record[f"val_{key}"], step)
                if show_progress:
                    print(line, file=sys.stderr)
                call_vis("plots", "save_learning_curves", out / "metrics.jsonl", out / "curves.png")
            result.epochs = epoch + 1
            if dist_util.any_true(stop.requested):
                if info.is_main:
                    print(f"pcseg: interrupted after epoch {epoch + 1}; saved {out / 'last.pt'} "
                          f"(continue with resume={out / 'last.pt'})", file=sys.stderr)
                result.interrupted = True
                break
    finally:
        stop.restore()
        if writer is not None:
            writer.close()
    dist_util.barrier()
    if averager is not None and averager.count and not result.interrupted and result.epochs == cfg.train.epochs:
        _write_averaged(cfg, net, averager, dataset, per_rank_batch, val, device, info, state, forward, out,
                        show_progress)
    result.step, result.best_miou, result.best_epoch, result.history = step, best_miou, best_epoch, history
    result.train_seconds, result.points_seen = train_seconds, points_seen
    if info.is_main and show_progress and not result.interrupted:
        best = "" if best_miou is None else f"; best val mIoU {100 * best_miou:.1f} at epoch {best_epoch}"
        print(f"pcseg: trained {result.epochs} epochs in {time.time() - t_start:.0f} s{best}; run folder {out}",
              file=sys.stderr)
    return result


# batches of training data whose statistics the averaged weights' batch-norm layers get (SWA's update_bn
# passes the whole training set; a fixed sample of this many batches is enough for a stable mean)
AVERAGE_BN_BATCHES = 32


def _write_averaged(cfg: Config, net: torch.nn.Module, averager: Any, dataset: Any, batch_size: int, val: list,
                    device: torch.device, info: Any, state: Any, forward: Any, out: Path,
                    show_progress: bool) -> None:
    """The end of a run with ``train.average_from``: the averaged weights, their batch-norm statistics from
    AVERAGE_BN_BATCHES training batches (the same on every rank, so all ranks hold the same model), a
    validation, and ``averaged.pt`` (rank 0)."""
    from torch.utils.data import DataLoader

    from pcseg.engine.averaging import recompute_batchnorm
    from pcseg.engine.checkpoint import save_checkpoint
    from pcseg.engine.evaluate import score_clouds

    avg = averager.averaged_copy(net)
    gen = torch.Generator()
    gen.manual_seed(seed_for(cfg.train.seed, 0xB4))
    n = min(len(dataset), AVERAGE_BN_BATCHES * batch_size) // batch_size * batch_size
    indices = torch.randperm(len(dataset), generator=gen)[:n].tolist()
    loader = DataLoader(dataset, batch_size=batch_size, sampler=indices, drop_last=True,
                        num_workers=cfg.data.num_workers, worker_init_fn=_worker_init, generator=gen)
    recompute_batchnorm(avg, loader, forward)
    avg.eval()
    st = state(cfg.train.epochs, None)
    for key in ("optimizer", "scheduler", "scaler", "rng", "partial", "average"):
        st.pop(key, None)          # the averaged weights are for eval, segment and packing, not for resuming
    st["state_dict"] = avg.state_dict()
    first = cfg.train.average_from
    # the last epoch's record, less its validation (that was of the last weights, not these)
    last = st["history"][-1] if st["history"] else {"epoch": cfg.train.epochs}
    record = {k: v for k, v in last.items() if not k.startswith("val_")}
    record["averaged_from"] = first
    line = f"averaged weights (epochs {first}-{cfg.train.epochs}, {averager.count} steps)"
    if cfg.train.val_every > 0 and val:
        cm = score_clouds(avg, val[info.rank::info.world_size], cfg, device)
        cm.all_reduce()
        record.update(_val_fields(cm))
        line += f": val mIoU {100 * cm.miou:.1f}  OA {100 * cm.oa:.1f}  mAcc {100 * cm.macc:.1f}"
        if info.is_main:
            atomic_write_text(out / "val_averaged.txt", cm.table() + "\n")
    # averaged.pt's history ends with its own validation, so pcseg.pretrained.packed_validation reports it
    st["history"] = json_safe(st["history"][:-1] + [record])
    if info.is_main:
        save_checkpoint(out / "averaged.pt", st)
        if show_progress:
            print(line, file=sys.stderr)


def cli(args: argparse.Namespace) -> int:
    """``pcseg train CONFIG [key=value ...]``; exit 130 after a Ctrl-C (a resumable last.pt is saved)."""
    from pcseg.engine import distributed as dist_util

    cfg = load_config(args.config, list(args.overrides or []))
    try:
        result = train(cfg)
    finally:
        dist_util.cleanup()
    return 130 if result.interrupted else 0


__all__ = ["train", "cli", "TrainResult", "call_vis", "seed_for"]
