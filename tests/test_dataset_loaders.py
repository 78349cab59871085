"""Dataset loaders: real data where /work/shared/data is present, generated files otherwise."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import trimesh

from nfbench.datasets.base import ItemRef, carve_val, file_sha256
from nfbench.datasets.digits import Digits
from nfbench.datasets.mesh_folders import Manifold40, Shrec16
from nfbench.datasets.modelnet import ModelNet10, ModelNet40
from nfbench.datasets.ply_folders import ScanNet10, ShapeNet10
from nfbench.errors import ConfigError, DataError
from nfbench.fitting.build import BuildRequest, build_dataset

DATA = Path("/work/shared/data")
H5_ROOT = DATA / "modelnet40_ply_hdf5_1024"
MN10_PARENT = DATA / "modelnet10_off_sample"
SHREC_ROOT = DATA / "shrec16"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="real data in /work/shared/data is absent")

TETRA_OBJ = "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n"


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def _per_class_split(items: list[ItemRef]) -> Counter:
    return Counter((it.split, it.label) for it in items)


def _assert_valid_mesh(shape) -> None:
    assert shape.vertices.ndim == 2 and shape.vertices.shape[1] == 3 and len(shape.vertices) > 0
    assert shape.faces.ndim == 2 and shape.faces.shape[1] == 3 and len(shape.faces) > 0
    assert shape.faces.min() >= 0 and shape.faces.max() < len(shape.vertices)
    assert np.isfinite(shape.vertices).all()


# ------------------------------------------------------------------------------ real data


@needs_data
def test_modelnet40_h5_lists_official_split_and_limits() -> None:
    ds = ModelNet40()
    names = ds.class_names(H5_ROOT)
    assert len(names) == 40 and names[0] == "airplane" and names[-1] == "xbox"
    every = ds.list_items(H5_ROOT, None, 0)
    assert Counter(it.split for it in every) == {"train": 9843, "test": 2468}
    items = ds.list_items(H5_ROOT, 2, 0)
    assert set(_per_class_split(items).values()) == {2} and len(items) == 2 * 2 * 40
    assert [it.key for it in items] == sorted(it.key for it in items)
    assert all(names[it.label] == it.key.split("/")[1] for it in items)


@needs_data
def test_modelnet40_h5_load_matches_source_row() -> None:
    ds = ModelNet40()
    item = next(it for it in ds.list_items(H5_ROOT, 1, 0) if it.key.startswith("train/chair/"))
    shard, row = item.locator.split("#")
    sources = json.loads((H5_ROOT / shard.replace("train", "train_").replace(".h5", "_id2file.json")).read_text())
    assert sources[int(row)] == f"chair/{item.key.split('/')[-1]}.ply"
    assert item.fingerprint == f"{file_sha256(H5_ROOT / shard)}#{row}"
    points = ds.load(H5_ROOT, item).points
    assert points.shape == (1024, 3) and points.dtype == np.float32 and np.isfinite(points).all()
    with h5py.File(H5_ROOT / shard) as fh:
        np.testing.assert_array_equal(points, fh["data"][int(row)])
        assert int(fh["label"][int(row), 0]) == item.label == ds.class_names(H5_ROOT).index("chair")


@needs_data
def test_modelnet10_off_sample_from_either_root_level() -> None:
    ds = ModelNet10()
    from_parent = ds.list_items(MN10_PARENT, 2, 0)
    from_dataset = ds.list_items(MN10_PARENT / "ModelNet10", 2, 0)
    assert [it.key for it in from_parent] == [it.key for it in from_dataset]
    assert len(from_parent) == 40 and set(_per_class_split(from_parent).values()) == {2}
    assert ds.class_names(MN10_PARENT)[6] == "night_stand"
    for item in from_parent[::9]:
        shape = ds.load(MN10_PARENT, item)
        _assert_valid_mesh(shape)
        header = (MN10_PARENT / item.locator).read_text().split()[:3]
        n_vertices = int(header[1] if header[0] == "OFF" else header[0][3:])
        assert len(shape.vertices) == n_vertices


@needs_data
def test_shrec16_loads_meshes_and_carves_val() -> None:
    ds = Shrec16()
    assert len(ds.class_names(SHREC_ROOT)) == 30
    items = ds.list_items(SHREC_ROOT, None, 0)
    assert Counter(it.split for it in items) == {"train": 480, "test": 120}
    shape = ds.load(SHREC_ROOT, items[0])
    _assert_valid_mesh(shape)
    assert len(shape.faces) == 500
    reference = trimesh.load(SHREC_ROOT / items[0].locator, process=False, maintain_order=True)
    np.testing.assert_allclose(shape.vertices, reference.vertices, rtol=1e-6)
    np.testing.assert_array_equal(shape.faces, reference.faces)
    carved = carve_val(items)
    counts = Counter(it.split for it in carved)
    assert counts == {"train": 420, "val": 60, "test": 120}
    assert {it.key for it in carved if it.split == "test"} == {it.key for it in items if it.split == "test"}


# ------------------------------------------------------------------------------ roots and layouts


def test_missing_root_says_so_and_names_the_layout(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError, match="does not exist") as err:
        ModelNet10().list_items(missing, None, 0)
    assert str(missing) in str(err.value) and "<class>/{train,test}" in str(err.value)
    with pytest.raises(DataError, match="nothing is downloaded"):
        Shrec16().class_names(None)


def test_wrong_layout_is_reported(tmp_path: Path) -> None:
    _write(tmp_path / "flat" / "chair_0001.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n")
    with pytest.raises(DataError, match="wrong layout: expected") as err:
        ModelNet10().list_items(tmp_path / "flat", None, 0)
    assert str(tmp_path / "flat") in str(err.value)
    with pytest.raises(DataError, match="wrong layout.*PointNet HDF5"):
        ModelNet40().list_items(tmp_path / "flat", None, 0)


def _manifold_root(tmp_path: Path, n_classes: int = 40) -> Path:
    root = tmp_path / "Manifold40"
    for c in range(n_classes):
        for split, n in (("train", 2), ("test", 1)):
            for i in range(n):
                _write(root / f"class{c:02d}" / split / f"class{c:02d}_{i:04d}.obj", TETRA_OBJ)
    return root


def test_manifold40_generated_layout(tmp_path: Path) -> None:
    root = _manifold_root(tmp_path)
    ds = Manifold40()
    items = ds.list_items(tmp_path, 1, 0)  # the parent of Manifold40/ works too
    assert len(items) == 80 and set(_per_class_split(items).values()) == {1}
    assert items[0].key == "test/class00/class00_0000" and items[0].locator == "Manifold40/class00/test/class00_0000.obj"
    assert items[0].fingerprint == file_sha256(root / "class00" / "test" / "class00_0000.obj")
    shape = ds.load(tmp_path, items[-1])
    assert shape.vertices.shape == (4, 3) and shape.faces.shape == (4, 3)
    assert any(it.split == "val" for it in carve_val(ds.list_items(root, None, 0)))
    with pytest.raises(ConfigError, match="positive"):
        ds.list_items(root, 0, 0)


def test_class_count_and_class_folder_checks(tmp_path: Path) -> None:
    root = _manifold_root(tmp_path, n_classes=39)
    with pytest.raises(DataError, match="found 39 classes, manifold40 has 40"):
        Manifold40().list_items(root, None, 0)
    (root / "zzz_extra").mkdir()
    with pytest.raises(DataError, match="neither train/ nor test/") as err:
        Manifold40().class_names(root)
    assert "zzz_extra" in str(err.value)


# ------------------------------------------------------------------------------ mesh files


def _single_class_dataset(tmp_path: Path, name: str, content: str | bytes) -> tuple[Path, ItemRef]:
    """A ModelNet10 root whose first class holds one given file (other classes hold a valid mesh)."""
    root = tmp_path / "ModelNet10"
    for c in range(10):
        _write(root / f"c{c}" / "train" / f"c{c}_0001.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n")
    _write(root / "c0" / "test" / name, content)
    item = next(it for it in ModelNet10().list_items(root, None, 0) if it.split == "test")
    return root, item


def test_off_merged_header_comments_and_polygons(tmp_path: Path) -> None:
    text = "OFF5 2 0\n# a comment\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n0.5 0.5 1\n\n4 0 1 2 3 255 0 0\n3 0 1 4\n"
    root, item = _single_class_dataset(tmp_path, "c0_0002.off", text)
    shape = ModelNet10().load(root, item)
    assert shape.vertices.shape == (5, 3) and shape.vertices.dtype == np.float32
    np.testing.assert_array_equal(shape.faces, [[0, 1, 2], [0, 2, 3], [0, 1, 4]])


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("OFF\n3 1 0\n0 0 0\nnan 0 0\n0 1 0\n3 0 1 2\n", "NaN/inf"),
        ("OFF\n4 2 0\n0 0 0\n1 0 0\n0 1 0\n", "truncated"),
        ("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n", "out of range"),
        ("OFF\n0 0 0\n", "no vertices"),
        ("ply\nformat ascii 1.0\n", "must start with 'OFF'"),
    ],
)
def test_bad_off_raises_naming_file(tmp_path: Path, text: str, problem: str) -> None:
    root, item = _single_class_dataset(tmp_path, "c0_0002.off", text)
    with pytest.raises(DataError, match=problem) as err:
        ModelNet10().load(root, item)
    assert str(root / item.locator.removeprefix("ModelNet10/")) in str(err.value)


def test_obj_quads_texture_refs_and_relative_indices(tmp_path: Path) -> None:
    text = (
        "# exported\nmtllib x.mtl\no quad\nv 0 0 0\nv 1 0 0 1.0\nv 1 1 0\nv 0 1 0\nvt 0 0\nvn 0 0 1\n"
        "f 1/1/1 2/1/1 3/1/1 4/1/1\nv 0.5 0.5 1\nf -5//1 -4//1 -1//1\n"
    )
    root = tmp_path / "Manifold40"
    _write(root / "a" / "train" / "a_0001.obj", text)
    shape = Manifold40().load(root.parent, ItemRef("train/a/a_0001", "train", 0, "Manifold40/a/train/a_0001.obj", ""))
    np.testing.assert_array_equal(shape.faces, [[0, 1, 2], [0, 2, 3], [0, 1, 4]])
    np.testing.assert_array_equal(shape.vertices, [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0.5, 0.5, 1]])


@pytest.mark.parametrize(("text", "problem"), [("", "no 'v' or 'f' lines"), ("v 0 0 0\nv 1 0 0\nv 0 1 0\n", "no faces")])
def test_empty_obj_raises_naming_file(tmp_path: Path, text: str, problem: str) -> None:
    path = _write(tmp_path / "s" / "a" / "test" / "empty.obj", text)
    with pytest.raises(DataError, match=problem) as err:
        Shrec16().load(tmp_path, ItemRef("test/a/empty", "test", 0, "s/a/test/empty.obj", ""))
    assert str(path) in str(err.value)


# ------------------------------------------------------------------------------ PLY folders


def _ply_root(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for c in range(10):
        for split in ("train", "test"):
            for i in range(3):
                path = tmp_path / f"class{c}" / split / f"{i:03d}.ply"
                path.parent.mkdir(parents=True, exist_ok=True)
                trimesh.PointCloud(rng.normal(size=(20 + i, 3))).export(path)
    return tmp_path


@pytest.mark.parametrize("cls", [ShapeNet10, ScanNet10])
def test_ply_folders_list_and_load(tmp_path: Path, cls: type) -> None:
    root = _ply_root(tmp_path)
    ds = cls()
    items = ds.list_items(root, 2, 0)
    assert len(items) == 40 and set(_per_class_split(items).values()) == {2}
    assert {it.key.rsplit("/", 1)[1] for it in items} == {"000", "001"}
    points = ds.load(root, items[-1]).points
    expected = trimesh.load(root / items[-1].locator).vertices
    assert points.dtype == np.float32 and points.shape == (21, 3)
    np.testing.assert_allclose(points, expected, rtol=1e-6)


def test_ply_mesh_vertices_become_cloud_and_empty_ply_fails(tmp_path: Path) -> None:
    root = _ply_root(tmp_path)
    box = trimesh.creation.box()
    box.export(root / "class0" / "train" / "000.ply")
    ds = ShapeNet10()
    item = ds.list_items(root, 1, 0)[10]
    assert item.key == "train/class0/000"
    assert ds.load(root, item).points.shape == (8, 3)
    _write(root / "class0" / "train" / "000.ply", "ply\nformat ascii 1.0\nelement vertex 0\nproperty float x\nproperty float y\nproperty float z\nend_header\n")
    with pytest.raises(DataError, match="empty point cloud") as err:
        ds.load(root, item)
    assert "000.ply" in str(err.value)


# ------------------------------------------------------------------------------ ModelNet40 HDF5


def _h5_root(tmp_path: Path, labels: list[int] | None = None) -> Path:
    """A PointNet-layout root with 40 class names and a few rows in each split."""
    root = tmp_path / "modelnet40_ply_hdf5_2048"
    names = [f"class{c:02d}" for c in range(40)]
    _write(root / "shape_names.txt", "\n".join(names) + "\n")
    rng = np.random.default_rng(1)
    for split in ("train", "test"):
        rows = labels or [0, 0, 0, 1, 1, 2]
        with h5py.File(_write(root / f"ply_data_{split}0.h5", b""), "w") as fh:
            fh["data"] = rng.normal(size=(len(rows), 16, 3)).astype(np.float32)
            fh["label"] = np.array(rows, np.uint8)[:, None]
        sources = [f"{names[min(l, 39)]}/{names[min(l, 39)]}_{split}{r:04d}.ply" for r, l in enumerate(rows)]
        _write(root / f"ply_data_{split}_0_id2file.json", json.dumps(sources))
    return root


def test_h5_generated_layout_limits_by_row_order(tmp_path: Path) -> None:
    root = _h5_root(tmp_path)
    ds = ModelNet40()
    items = ds.list_items(tmp_path, 2, 0)  # parent of the HDF5 folder
    assert _per_class_split(items) == {(s, c): 2 if c < 2 else 1 for s in ("train", "test") for c in range(3)}
    first = next(it for it in items if it.split == "train")
    assert first.key == "train/class00/class00_train0000"
    assert first.locator == "modelnet40_ply_hdf5_2048/ply_data_train0.h5#0"
    assert "train/class00/class00_train0002" not in {it.key for it in items}
    with h5py.File(root / "ply_data_train0.h5") as fh:
        np.testing.assert_array_equal(ds.load(tmp_path, first).points, fh["data"][0])


def test_h5_corrupt_truncated_and_inconsistent_files(tmp_path: Path) -> None:
    ds = ModelNet40()
    root = _h5_root(tmp_path)
    shard = root / "ply_data_train0.h5"
    good = shard.read_bytes()
    shard.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="unreadable HDF5") as err:
        ds.list_items(root, None, 0)
    assert str(shard) in str(err.value)
    with h5py.File(shard, "w") as fh:
        fh["data"] = np.zeros((6, 16, 3), np.float32)
    with pytest.raises(DataError, match="missing dataset 'label'"):
        ds.list_items(root, None, 0)

    root = _h5_root(tmp_path / "b", labels=[0, 41])
    with pytest.raises(DataError, match="label 41 out of range"):
        ds.list_items(root, None, 0)
    root = _h5_root(tmp_path / "c")
    _write(root / "ply_data_test_0_id2file.json", json.dumps(["class05/x.ply"] * 6))
    with pytest.raises(DataError, match="its label says 'class00'") as err:
        ds.list_items(root, None, 0)
    assert "ply_data_test0.h5" in str(err.value)


def test_h5_row_with_nan_fails_on_load(tmp_path: Path) -> None:
    root = _h5_root(tmp_path)
    ds = ModelNet40()
    item = ds.list_items(root, None, 0)[0]
    shard, row = item.locator.split("#")
    with h5py.File(root / shard, "r+") as fh:
        fh["data"][int(row), 3] = np.nan
    with pytest.raises(DataError, match="1 of 16 points have NaN") as err:
        ds.load(root, item)
    assert f"{shard}#{row}" in str(err.value)


# ------------------------------------------------------------------------------ digits


def test_digits_split_limit_and_images() -> None:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    ds = Digits()
    every = ds.list_items(None, None, 0)
    per_class = np.bincount(bunch.target)
    train = Counter(it.label for it in every if it.split == "train")
    assert [train[c] for c in range(10)] == list(per_class * 4 // 5)
    assert len(every) == len(bunch.target)
    # First 80 % of a class by sample index train: every train index precedes every test index.
    zeros = [(it.split, int(it.locator)) for it in every if it.label == 0]
    assert max(i for s, i in zeros if s == "train") < min(i for s, i in zeros if s == "test")

    items = ds.list_items(None, 5, 0)
    assert len(items) == 100 and set(_per_class_split(items).values()) == {5}
    assert all(int(it.key.split("/")[1]) == it.label == bunch.target[int(it.locator)] for it in items)
    image = ds.load(None, items[-1]).image
    assert image.shape == (8, 8, 1) and image.dtype == np.float32
    np.testing.assert_allclose(image[..., 0], bunch.images[int(items[-1].locator)] / 16)
    assert 0.0 <= image.min() and image.max() <= 1.0
    with pytest.raises(DataError, match="no such sample"):
        ds.load(None, ItemRef("train/0/9999", "train", 0, "9999", ""))


def test_sdf_from_point_clouds_fails_naming_the_row_and_writes_nothing(tmp_path: Path) -> None:
    _h5_root(tmp_path)
    out = tmp_path / "built"
    req = BuildRequest("modelnet40", root=tmp_path, field="sdf", preset="tiny", limit=1, out=out)
    with pytest.raises(DataError, match=r"ply_data_\w+0\.h5#0: sdf and occ fields need a triangle mesh.*--field udf"):
        build_dataset(req, torch.device("cpu"))
    assert not out.exists()


def test_a_finished_build_reopens_without_its_raw_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Training on stored INRs needs only the INRs: `nfbench run --dataset modelnet40` after the build, no --root."""
    import dataclasses

    monkeypatch.setenv("NFBENCH_HOME", str(tmp_path / "home"))
    _h5_root(tmp_path)
    req = BuildRequest("modelnet40", root=tmp_path, preset="tiny", limit=2)
    out, complete = build_dataset(req, torch.device("cpu"))
    assert complete
    assert build_dataset(dataclasses.replace(req, root=None), torch.device("cpu")) == (out, True)
    with pytest.raises(DataError, match="needs --root"):  # another build of the same source is not there yet
        build_dataset(dataclasses.replace(req, root=None, limit=1), torch.device("cpu"))
