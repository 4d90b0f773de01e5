import pytest
import torch

from pcseg.models import create_model, model_family
from pcseg.models.deeplab import DeepLabV3Plus

from tests.models.gradcheck import assert_every_parameter_learns


def _tiny(**kw) -> DeepLabV3Plus:
    args = dict(in_channels=5, num_classes=7, width=8, layers=(1, 1, 1, 1))
    args.update(kw)
    return DeepLabV3Plus(**args)


def _fitted_accuracy(model: DeepLabV3Plus, x: torch.Tensor, target: torch.Tensor, steps: int = 150) -> float:
    """Pixel accuracy on (x, target) after ``steps`` Adam steps on them alone."""
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), target).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == target).float().mean().item()


@pytest.mark.parametrize("output_stride,hw", [(16, (32, 64)), (16, (64, 256)), (8, (16, 40)), (8, (64, 128))])
def test_output_shape(output_stride, hw):
    torch.manual_seed(0)
    model = _tiny(output_stride=output_stride).eval()
    with torch.no_grad():
        y = model(torch.randn(2, 5, *hw))
    assert y.shape == (2, 7, *hw)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("output_stride,hw", [(16, (64, 1000)), (16, (24, 64)), (8, (64, 1004))])
def test_bad_size_is_a_clear_error(output_stride, hw):
    model = _tiny(output_stride=output_stride)
    with pytest.raises(ValueError, match=rf"multiples of {output_stride}.*{hw[0]}x{hw[1]}"):
        model(torch.randn(1, 5, *hw))


def test_bad_output_stride():
    with pytest.raises(ValueError, match="output_stride"):
        _tiny(output_stride=32)


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    model = _tiny(output_stride=8).train()
    x = torch.randn(2, 5, 16, 64)
    target = torch.randint(0, 7, (2, 16, 64))
    loss = torch.nn.functional.cross_entropy(model(x), target)
    assert_every_parameter_learns(model, loss)


def test_batch_of_one_trains():
    # the image-pooling branch has no BatchNorm, so a single image per batch works in train mode
    model = _tiny().train()
    model(torch.randn(1, 5, 32, 64)).sum().backward()


def test_registry():
    assert model_family("deeplabv3plus") == "2d"
    model = create_model("deeplabv3plus", in_channels=7, num_classes=13, width=8, layers=[1, 1, 1, 1])
    assert isinstance(model, DeepLabV3Plus)
    assert model(torch.randn(1, 7, 16, 32)).shape == (1, 13, 16, 32)


def test_dilation_keeps_the_feature_map():
    model = _tiny(output_stride=8).eval()
    low, deep = model.encoder(torch.randn(1, 5, 32, 64))
    assert low.shape[-2:] == (8, 16) and deep.shape[-2:] == (4, 8)
    model = _tiny(output_stride=16).eval()
    low, deep = model.encoder(torch.randn(1, 5, 32, 64))
    assert low.shape[-2:] == (8, 16) and deep.shape[-2:] == (2, 4)


def test_row_stride_one_keeps_twice_the_rows():
    model = _tiny(output_stride=8, row_stride=1).eval()
    low, deep = model.encoder(torch.randn(1, 5, 32, 64))
    assert low.shape[-2:] == (16, 16) and deep.shape[-2:] == (8, 8)
    with torch.no_grad():
        assert model(torch.randn(2, 5, 12, 64)).shape == (2, 7, 12, 64)
    with pytest.raises(ValueError, match=r"H must be a multiple of 4 and W of 8.*10x64"):
        model(torch.randn(1, 5, 10, 64))
    with pytest.raises(ValueError, match="row_stride"):
        _tiny(row_stride=3)


@pytest.mark.parametrize("row_stride,learns", [(1, True), (2, False)])
def test_bands_two_rows_high_need_row_stride_one(row_stride, learns):
    # Labels in bands two rows high (a kerb or a pole's top seen by two beams): the default stem's
    # quarter-height logits cannot draw them, the column-only stem's half-height logits can.
    torch.manual_seed(0)
    model = _tiny(in_channels=1, num_classes=2, output_stride=8, row_stride=row_stride, dropout=0.0)
    rows = torch.arange(16) // 2 % 2
    target = rows.view(1, 16, 1).expand(4, 16, 32)
    x = (2.0 * target - 1.0).unsqueeze(1).float()
    acc = _fitted_accuracy(model, x, target)
    assert (acc > 0.95) == learns, acc


@pytest.mark.parametrize("fine_channels,learns", [(8, True), (0, False)])
def test_stripes_two_columns_wide_need_the_fine_skip(fine_channels, learns):
    # Labels in stripes two columns wide (a pole or a sign post seen by two firings): the v3+ decoder's
    # quarter-width logits cannot draw them, the refinement at the stem's half-width map can.
    torch.manual_seed(0)
    model = _tiny(in_channels=1, num_classes=2, output_stride=8, row_stride=1, dropout=0.0,
                  fine_channels=fine_channels)
    cols = torch.arange(32) // 2 % 2
    target = cols.view(1, 1, 32).expand(4, 8, 32)
    x = (2.0 * target - 1.0).unsqueeze(1).float()
    acc = _fitted_accuracy(model, x, target)
    assert (acc > 0.95) == learns, acc


def test_fine_skip_shapes_and_gradients():
    torch.manual_seed(0)
    model = _tiny(output_stride=8, row_stride=1, fine_channels=6).train()
    x = torch.randn(2, 5, 16, 64)
    y = model(x)
    assert y.shape == (2, 7, 16, 64)
    assert_every_parameter_learns(model, torch.nn.functional.cross_entropy(y, torch.randint(0, 7, (2, 16, 64))))
    with pytest.raises(ValueError, match="fine_channels"):
        _tiny(fine_channels=-1)
