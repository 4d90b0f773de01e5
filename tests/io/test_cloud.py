import numpy as np
import pytest

from pcseg.io.cloud import Cloud

pytest.importorskip("torch_geometric")


def test_to_pyg_and_back_keeps_every_attribute():
    rng = np.random.default_rng(0)
    n = 50
    cloud = Cloud(rng.random((n, 3)), color=rng.random((n, 3)), intensity=rng.random(n),
                  normal=rng.random((n, 3)), label=rng.integers(-1, 13, n))
    data = cloud.to_pyg()
    assert data.num_nodes == n and data.pos.shape == (n, 3) and data.x.shape == (n, 7) and data.y.shape == (n,)
    assert data.feature_names == ["color", "intensity", "normal"]
    np.testing.assert_array_equal(data.x[:, 3].numpy(), cloud.intensity)
    back = Cloud.from_pyg(data)
    for name in ("coord", "color", "intensity", "normal", "label"):
        np.testing.assert_array_equal(getattr(back, name), getattr(cloud, name))


def test_coordinates_only_and_plain_pyg_data():
    from torch_geometric.data import Data
    import torch

    bare = Cloud(np.zeros((4, 3))).to_pyg()
    assert bare.x is None and bare.y is None and bare.pos.shape == (4, 3)
    # a PyG user's Data without feature names: 3 columns are colour; others need features=[...]
    rgb = Cloud.from_pyg(Data(pos=torch.rand(5, 3), x=torch.rand(5, 3), y=torch.arange(5)))
    assert rgb.color.shape == (5, 3) and rgb.label.tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="features="):
        Cloud.from_pyg(Data(pos=torch.rand(5, 3), x=torch.rand(5, 4)))
    both = Cloud.from_pyg(Data(pos=torch.rand(5, 3), x=torch.rand(5, 4)), features=["intensity", "color"])
    assert both.intensity.shape == (5,) and both.color.shape == (5, 3)
    with pytest.raises(ValueError, match="do not describe"):
        Cloud.from_pyg(Data(pos=torch.rand(5, 3), x=torch.rand(5, 4)), features=["color"])
    with pytest.raises(ValueError, match="no pos"):
        Cloud.from_pyg(Data(x=torch.rand(5, 3)))
