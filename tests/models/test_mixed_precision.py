"""Every model under float16 autocast with the ops' PyTorch path: what CUDA mixed precision runs.

CPU autocast in float16 stands in for the GPU here (no GPU on these machines). PointNet++ once gave a NaN
loss on an H100 from an inverse-distance weight past float16's range; this is the check that would have
caught it on CPU.
"""

import pytest
import torch

from pcseg.models import create_model

from tests.models.gradcheck import random_blocks

POINT_MODELS = {
    "pointnet": {"width": 0.25},
    "acnn": {"width": 0.25, "ring_k_scale": 0.5},
    "pointnet2": {"width": 0.25},
    "point_transformer": {"width": 0.25, "blocks": (1, 1, 1, 1, 1)},
}
IMAGE_MODELS = {
    "deeplabv3plus": {"width": 8, "layers": [1, 1, 1, 1]},
    "unet": {"width": 4, "depth": 2},
}


@pytest.fixture
def torch_ops(monkeypatch):
    """The pure-PyTorch ops, as for CUDA tensors, instead of the CPU kernels."""
    import pcseg.ops.neighbors
    import pcseg.ops.pyg
    import pcseg.ops.sampling

    for module in (pcseg.ops.neighbors, pcseg.ops.sampling, pcseg.ops.pyg):
        monkeypatch.setattr(module, "resolve", lambda backend, *tensors: "torch")


def half_autocast():
    try:
        return torch.autocast("cpu", dtype=torch.float16)
    except RuntimeError as err:                                  # older torch: CPU autocast is bfloat16 only
        pytest.skip(f"no float16 CPU autocast here: {err}")


def finite_step(model: torch.nn.Module, inputs: tuple[torch.Tensor, ...], labels: torch.Tensor) -> None:
    with half_autocast():
        logits = model(*inputs)
        loss = torch.nn.functional.cross_entropy(logits.float(), labels)
    assert logits.dtype == torch.float16 and torch.isfinite(logits).all()
    assert torch.isfinite(loss)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("name", sorted(POINT_MODELS))
def test_point_models_stay_finite_in_half_precision(name, torch_ops):
    torch.manual_seed(0)
    model = create_model(name, num_classes=5, **POINT_MODELS[name]).train()
    feats, coord = random_blocks(2, 512)
    # real blocks repeat points (duplicates, and points millimetres apart): distances of zero
    coord[:, 256:300] = coord[:, :44] + 1e-4
    feats[:, :3, 256:300] = feats[:, :3, :44] + 1e-4
    finite_step(model, (feats, coord), torch.randint(0, 5, (2, 512)))


@pytest.mark.parametrize("name", sorted(IMAGE_MODELS))
def test_image_models_stay_finite_in_half_precision(name):
    torch.manual_seed(0)
    model = create_model(name, in_channels=5, num_classes=5, **IMAGE_MODELS[name]).train()
    image = torch.randn(2, 5, 32, 128)
    finite_step(model, (image,), torch.randint(0, 5, (2, 32, 128)))
