"""VoxNet: its shapes at the paper resolution, and training-batch rotations that keep grids binary and the up axis fixed."""

import math

import pytest
import torch

from nfbench.methods.conv3d import Conv3DConfig, VoxNet, rotate_grids


def _config(**kw) -> Conv3DConfig:
    return Conv3DConfig(epochs=1, lr=1e-3, weight_decay=0.0, batch_size=2, **kw)


def test_voxnet_takes_the_paper_grid_and_embeds_in_its_hidden_layer():
    net = VoxNet(_config(), n_classes=40).eval()
    grids = torch.rand(2, 32, 32, 32) < 0.1
    assert net(grids).shape == (2, 40) and net(grids, embed=True).shape == (2, 128)
    assert net.hidden[0].in_features == 32 * 6**3  # 32 -> 14 (5^3, stride 2) -> 12 (3^3) -> 6 (pool)


def test_too_small_a_grid_is_refused():
    with pytest.raises(ValueError, match="too small"):
        VoxNet(_config(resolution=8), n_classes=2)


@pytest.mark.parametrize("up", ["x", "y", "z"])
def test_rotations_keep_each_slice_along_the_up_axis_and_stay_binary(up):
    torch.manual_seed(0)
    grids = torch.zeros(4, 16, 16, 16, dtype=torch.uint8)
    grids[:, 6:10, 6:10, 6:10] = 1  # a centred cube
    grids[:, 7:9, 7:9, 2:5] = 1  # an arm along z
    angle, mirror = torch.rand(4) * 2 * math.pi, torch.tensor([1.0, -1.0, 1.0, -1.0])
    moved = rotate_grids(grids, up, angle, mirror)
    assert moved.dtype == torch.uint8 and set(moved.unique().tolist()) <= {0, 1}
    axis = "xyz".index(up) + 1
    other = tuple(a for a in (1, 2, 3) if a != axis)
    before, after = grids.float().sum(dim=other), moved.float().sum(dim=other)  # what a rotation about `up` keeps
    assert torch.allclose(after, before, rtol=0.25, atol=2.0)
    assert (before > 0).eq(after > 0).all()


def test_a_quarter_turn_about_y_moves_an_arm_from_the_x_axis_to_the_z_axis_and_a_mirror_undoes_its_sense():
    grids = torch.zeros(1, 9, 9, 9, dtype=torch.uint8)
    grids[0, 6:9, 4, 4] = 1  # an arm along +x
    quarter = torch.tensor([math.pi / 2])
    ends = []
    for mirror in (1.0, -1.0):
        occupied = rotate_grids(grids, "y", quarter, torch.tensor([mirror]))[0].nonzero()
        assert len(occupied) == 3 and (occupied[:, 0] == 4).all() and (occupied[:, 1] == 4).all()
        ends.append(sorted(occupied[:, 2].tolist()))
    assert sorted(ends) == [[0, 1, 2], [6, 7, 8]]  # mirrored first, the arm ends on the other side
    assert torch.equal(rotate_grids(grids, "y", torch.zeros(1), torch.ones(1)), grids)  # identity


def test_voxels_from_an_image_inr_fail_before_any_work_naming_method_view_and_kind(tmp_path):
    from nfbench.errors import ConfigError
    from nfbench.fitting.build import BuildRequest, build_dataset
    from nfbench.run.runner import run_one, run_specs
    from nfbench.store.reader import INRDataset

    path, _ = build_dataset(BuildRequest("digits", out=tmp_path / "digits", limit=1, steps=1), torch.device("cpu"))
    (spec,) = run_specs("conv3d", "tiny", [], [0], "fields")
    with pytest.raises(ConfigError, match=r"'conv3d' reads the 'voxels' view, which it takes from .* holds 'image' fields"):
        run_one(spec, "classify", INRDataset.open(path), torch.device("cpu"), tmp_path / "records")
    assert not (tmp_path / "records").exists()  # nothing was written
