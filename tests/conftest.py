import os
import shutil
from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def isolated_home(tmp_path_factory):
    """Every test session gets its own NFBENCH_HOME: no test touches the user's cache."""
    home = tmp_path_factory.mktemp("nfbench_home")
    old = os.environ.get("NFBENCH_HOME")
    os.environ["NFBENCH_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("NFBENCH_HOME", None)
    else:
        os.environ["NFBENCH_HOME"] = old


@pytest.fixture(scope="session")
def tiny_dataset(isolated_home):
    """procshapes at the tiny preset, 3 shapes per class and split (built once per session)."""
    from nfbench.run.runner import tiny_check_dataset

    return tiny_check_dataset(torch.device("cpu"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"real data not available at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def one_thread():
    """Tiny models run faster on one thread, and a shared machine makes several threads spin."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def copy(tiny_dataset, tmp_path):
    """A private copy of the tiny dataset, for tests that damage or edit it."""
    out = tmp_path / "copy"
    shutil.copytree(tiny_dataset.root, out)
    return out

