"""Weight averaging: the uniform mean of the weights a run passes through late in training.

Stochastic weight averaging (Izmailov et al., "Averaging Weights Leads to Wider Optima and Better
Generalization", UAI 2018) takes the mean of the weights SGD visits once the loss has settled; averaged
weights sit in a flatter region of the loss surface, and Cha et al. ("SWAD: Domain Generalization by Seeking
Flat Minima", NeurIPS 2021) show that averaging densely (after every step) is what transfers to a domain not
seen in training, which is what a model trained on synthetic scans and run on real ones needs. As both
papers do, only the parameters are averaged; batch-norm statistics of the mean weights are recomputed
afterwards from training batches (``recompute_batchnorm``, as ``torch.optim.swa_utils.update_bn``), because
the running statistics of the visited weights do not describe the mean weights.

pcseg's trainer keeps one ``WeightAverage`` when ``train.average_from`` is set (pcseg.engine.train).
"""

from __future__ import annotations

import copy
from typing import Callable, Iterable

import torch

__all__ = ["WeightAverage", "batch_norms", "recompute_batchnorm"]


class WeightAverage:
    """Running uniform mean of a model's parameters (float32), one ``update`` per training step."""

    def __init__(self) -> None:
        self.mean: dict[str, torch.Tensor] = {}
        self.count = 0

    def update(self, net: torch.nn.Module) -> None:
        """Fold the current parameters of ``net`` into the mean."""
        self.count += 1
        with torch.no_grad():
            for name, p in net.named_parameters():
                value = p.detach().float()
                if self.count == 1:
                    self.mean[name] = value.clone()
                else:
                    self.mean[name].add_(value - self.mean[name], alpha=1.0 / self.count)

    def state_dict(self) -> dict:
        return {"count": self.count, "mean": {k: v.cpu() for k, v in self.mean.items()}}

    def load_state_dict(self, state: dict, device: torch.device) -> None:
        self.count = int(state["count"])
        self.mean = {k: v.to(device) for k, v in state["mean"].items()}

    def averaged_copy(self, net: torch.nn.Module) -> torch.nn.Module:
        """A copy of ``net`` with the mean parameters (buffers as in ``net``: recompute the batch-norm
        statistics before using it). Raises ValueError when nothing was averaged."""
        if self.count == 0:
            raise ValueError("no weights were averaged")
        out = copy.deepcopy(net)
        with torch.no_grad():
            for name, p in out.named_parameters():
                p.copy_(self.mean[name].to(p.dtype))
        return out


def batch_norms(model: torch.nn.Module) -> list[torch.nn.Module]:
    """Every batch-norm layer of ``model`` (1-, 2- and 3-d)."""
    return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


def recompute_batchnorm(model: torch.nn.Module, batches: Iterable, forward: Callable[[torch.nn.Module, object], object]
                        ) -> int:
    """Reset every batch-norm layer of ``model`` and set its running statistics to the plain mean over
    ``batches`` (each passed to ``forward(model, batch)`` in training mode, without gradients). Returns the
    number of batches used; a model without batch norm is left as it is (0)."""
    norms = batch_norms(model)
    if not norms:
        return 0
    momenta = {}
    for m in norms:
        m.reset_running_stats()
        momenta[m] = m.momentum
        m.momentum = None                    # cumulative average over the batches, not an exponential one
    was_training = model.training
    model.train()
    n = 0
    with torch.no_grad():
        for batch in batches:
            forward(model, batch)
            n += 1
    for m in norms:
        m.momentum = momenta[m]
    model.train(was_training)
    return n
