import numpy as np
import pytest
import torch

pytest.importorskip("torch_geometric")

from pcseg.data.pyg import PygBlocks  # noqa: E402


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    from pcseg.data.prepare import prepare_s3dis
    from pcseg.data.synth_s3dis import synth_s3dis

    root = tmp_path_factory.mktemp("pyg_s3dis")
    synth_s3dis(root / "raw", areas=(1,), rooms_per_area=2, points_per_room=3000, seed=5)
    prepare_s3dis(root / "raw", root / "cache", workers=1, progress=False, verbose=False)
    return root / "cache"


def test_blocks_are_pyg_data_with_block_layout(cache):
    ds = PygBlocks(cache, areas=[1], num_points=128, min_points=20)
    assert len(ds) > 4 and "128 points" in repr(ds)
    data = ds[0]
    assert data.pos.shape == (128, 3) and data.x.shape == (128, 9) and data.y.shape == (128,)
    assert data.y.dtype == torch.long and int(data.y.max()) < 13
    # the first three feature channels are the block-local xyz, as for pcseg's own models
    torch.testing.assert_close(data.x[:, :3], data.pos)
    again = ds[0]
    assert torch.equal(again.pos, data.pos)          # the same item and epoch draw the same points
    ds.set_epoch(1)
    assert not torch.equal(ds[0].pos, data.pos)
    with pytest.raises(Exception, match="no prepared rooms"):
        PygBlocks(cache, areas=[5])


def test_a_pyg_training_loop_runs_and_learns_on_pcseg_blocks(cache):
    from torch_geometric.loader import DataLoader
    from torch_geometric.nn import EdgeConv

    from pcseg.ops.pyg import knn_graph

    torch.manual_seed(0)
    ds = PygBlocks(cache, areas=[1], num_points=128, min_points=20)
    loader = DataLoader(ds, batch_size=4, shuffle=True)
    conv = EdgeConv(torch.nn.Sequential(torch.nn.Linear(18, 32), torch.nn.ReLU()), aggr="max")
    head = torch.nn.Linear(32, 13)
    opt = torch.optim.Adam([*conv.parameters(), *head.parameters()], lr=0.01)
    losses = []
    for epoch in range(3):
        ds.set_epoch(epoch)
        for data in loader:
            assert data.batch.shape == (data.num_nodes,) and int(data.batch.max()) < 4
            edge_index = knn_graph(data.pos, 8, data.batch)
            assert (data.batch[edge_index[0]] == data.batch[edge_index[1]]).all()
            logits = head(conv(data.x, edge_index))
            loss = torch.nn.functional.cross_entropy(logits, data.y, ignore_index=-1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    n = len(losses) // 3
    assert np.isfinite(losses).all() and np.mean(losses[-n:]) < np.mean(losses[:n])
