import pytest
import torch

from pcseg.models import create_model, model_family
from pcseg.models.unet import UNet

from tests.models.gradcheck import assert_every_parameter_learns


@pytest.mark.parametrize("depth,hw", [(4, (64, 128)), (4, (16, 48)), (2, (12, 20)), (3, (8, 2048 // 16))])
def test_output_shape(depth, hw):
    torch.manual_seed(0)
    model = UNet(in_channels=5, num_classes=4, width=4, depth=depth).eval()
    with torch.no_grad():
        y = model(torch.randn(2, 5, *hw))
    assert y.shape == (2, 4, *hw)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("depth,hw", [(4, (64, 1000)), (4, (40, 64)), (2, (6, 8))])
def test_bad_size_is_a_clear_error(depth, hw):
    model = UNet(in_channels=5, num_classes=4, width=4, depth=depth)
    with pytest.raises(ValueError, match=rf"multiples of {2 ** depth}.*{hw[0]}x{hw[1]}"):
        model(torch.randn(1, 5, *hw))


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    model = UNet(in_channels=3, num_classes=5, width=4, depth=3, max_width=12).train()
    x = torch.randn(2, 3, 16, 32)
    loss = torch.nn.functional.cross_entropy(model(x), torch.randint(0, 5, (2, 16, 32)))
    assert_every_parameter_learns(model, loss)


def test_max_width_caps_channels():
    model = UNet(in_channels=1, num_classes=2, width=8, depth=4, max_width=32)
    assert max(m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d)) == 32


def test_registry():
    assert model_family("unet") == "2d"
    model = create_model("unet", in_channels=7, num_classes=13, width=4, depth=2)
    assert isinstance(model, UNet)
    assert model(torch.randn(1, 7, 8, 8)).shape == (1, 13, 8, 8)
