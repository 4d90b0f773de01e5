import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    # tiny tensors: a second OpenMP thread only adds synchronisation (badly so on a loaded machine)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
