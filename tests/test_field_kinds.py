"""Field kinds: one module each behind one registry, a contract every kind meets, and no code
outside ``benchmark/fields/kinds/`` that branches on a kind's name."""

from __future__ import annotations

import ast
import dataclasses
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from nfbench.api.metrics import MetricSpec
from nfbench.api.registry import RegistryError
from nfbench.datasets import DATASETS
from nfbench.datasets.base import DatasetCard, Shape
from nfbench.decode import field_fn
from nfbench.errors import ConfigError
from nfbench.fields import FieldSpec, shared_init
from nfbench.fields.kinds import FIELD_KINDS, FieldKind, field_kind
from nfbench.fitting.build import BuildRequest, resolve_build
from nfbench.fitting.streams import ItemStreams
from nfbench.targets import SamplingConfig, normalize_shape

REPO = Path(__file__).resolve().parents[1]
SCANNED = ("benchmark", "methods", "datasets")
KINDS_PACKAGE = REPO / "benchmark" / "fields" / "kinds"
KIND_NAMES = frozenset({"udf", "sdf", "occ", "image", "nerf"})
TINY = SamplingConfig.preset("tiny")
N_REFERENCE = 64

# ---------------------------------------------------------------- no branches on kind names


def _is_name(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value in KIND_NAMES


def _holds_name(node: ast.AST) -> bool:
    return _is_name(node) or (isinstance(node, (ast.Tuple, ast.List, ast.Set)) and any(map(_is_name, node.elts)))


def _only_names(nodes: list[ast.expr | None]) -> bool:
    """String constants that are all kind names: a table keyed by kind. (A table whose keys only
    include one, such as the field presets ``paper``, ``cpu``, ..., ``image``, is keyed by something else.)"""
    strings = [n for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return bool(strings) and all(map(_is_name, strings))


def _is_branch(node: ast.AST) -> bool:
    """Comparisons and membership tests against a kind's name, dicts keyed by kind names, ``case "udf":``
    and ``Literal[...]`` of kind names (a closed list of kinds is a branch waiting to happen)."""
    if isinstance(node, ast.Compare):
        for op, (left, right) in zip(node.ops, pairwise([node.left, *node.comparators]), strict=True):
            if isinstance(op, (ast.Eq, ast.NotEq, ast.Is, ast.IsNot)) and (_is_name(left) or _is_name(right)):
                return True
            if isinstance(op, (ast.In, ast.NotIn)) and (_is_name(left) or _holds_name(right)):
                return True
        return False
    if isinstance(node, ast.Dict):
        return _only_names(node.keys)
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id == "dict" and any(kw.arg in KIND_NAMES for kw in node.keywords)
    if isinstance(node, ast.MatchValue):
        return _is_name(node.value)
    if isinstance(node, ast.Subscript):
        literal = (isinstance(node.value, ast.Name) and node.value.id == "Literal") or (
            isinstance(node.value, ast.Attribute) and node.value.attr == "Literal"
        )
        return literal and _only_names(node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice])
    return False


def kind_branches(source: str, filename: str) -> list[str]:
    """``file:line: code`` for every branch on a kind's name in ``source``, in line order."""
    nodes = sorted((n for n in ast.walk(ast.parse(source, filename)) if _is_branch(n)), key=lambda n: (n.lineno, n.col_offset))
    return [f"{filename}:{n.lineno}: {ast.get_source_segment(source, n)}" for n in nodes]


def test_no_code_outside_the_kind_modules_branches_on_a_kind_name() -> None:
    hits = []
    for top in SCANNED:
        for path in sorted((REPO / top).rglob("*.py")):
            if not path.is_relative_to(KINDS_PACKAGE):
                hits += kind_branches(path.read_text(), str(path.relative_to(REPO)))
    assert not hits, "branches on field-kind names outside benchmark/fields/kinds/ (ask the kind instead):\n" + "\n".join(hits)


# Lines as they stood before field kinds became modules (commit 4a4e540), and the
# lines of each that the check must report.
OLD_CODE = {
    "benchmark/targets/losses.py": (
        '_LOSSES: dict[str, LossFn] = {"udf": bce_loss, "sdf": bce_loss, "occ": focal_loss, "image": mse_loss}\n',
        [1],
    ),
    "benchmark/targets/config.py": ('def query_count(field, cfg):\n    if field in ("udf", "sdf"):\n        return cfg.n_queries\n', [2]),
    "benchmark/decode/quality.py": ('def reconstruct(field_kind):\n    if field_kind == "udf":\n        return 1\n', [2]),
    "benchmark/fitting/build.py": ('if (field == "image") != (preset.field.in_dim == 2):\n    raise ValueError(field)\n', [1]),
    "datasets/base.py": ('FieldKind = Literal["udf", "sdf", "occ", "image"]\n', [1]),
    "methods/nf2vec.py": (
        'SURFACE_LEVEL: dict[str, float] = {"udf": 1.0, "sdf": 0.5, "occ": OCC_THRESHOLD}\nif kind != \'image\':\n    pass\n',
        [1, 2],
    ),
    "elsewhere.py": ('match kind:\n    case "nerf":\n        pass\nlevels = dict(udf=1.0)\nif "image" in card.field_kinds:\n    pass\n', [2, 4, 5]),
}


@pytest.mark.parametrize("filename", sorted(OLD_CODE))
def test_the_branch_check_catches_the_old_code(filename: str) -> None:
    source, lines = OLD_CODE[filename]
    hits = kind_branches(source, filename)
    assert [int(h.split(":")[1]) for h in hits] == lines, hits
    assert all(h.startswith(f"{filename}:") for h in hits)


def test_declarations_and_lookups_are_not_branches() -> None:
    source = '''"""Docs may say udf and "sdf" == "sdf"."""
card = DatasetCard(field_kinds=("sdf", "udf", "occ"), default_field="sdf")
kind = FIELD_KINDS.get("udf")
FIELD_KINDS.register_lazy("image", "nfbench.fields.kinds.image:IMAGE")
if kind.surface_level is None and field in card.field_kinds:
    pass
FIELD_PRESETS = {"paper": paper, "tiny": tiny, "image": image}
Mode = Literal["weights", "image"]
'''
    assert kind_branches(source, "ok.py") == []


# ---------------------------------------------------------------- registry


def test_registry_holds_one_instance_per_kind_named_as_registered() -> None:
    assert {"udf", "sdf", "occ", "image"} <= set(FIELD_KINDS.names())
    for name in FIELD_KINDS.names():
        kind = field_kind(name)
        assert isinstance(kind, FieldKind) and kind.name == name and field_kind(name) is kind
    with pytest.raises(RegistryError, match="unknown field kind 'sfd'; did you mean 'sdf'"):
        field_kind("sfd")


# ---------------------------------------------------------------- the contract, for every kind


@pytest.fixture(scope="module")
def shapes() -> list[Shape]:
    """Two procshapes items (cloud, mesh, voxels, parts) with an image each: every kind finds its data."""
    dataset = DATASETS.get("procshapes")()
    refs = dataset.list_items(None, 1, 0)[:2]
    rng = np.random.default_rng(0)
    return [
        dataclasses.replace(normalize_shape(dataset.load(None, ref), ref.key), image=rng.random((6, 5, 1)).astype(np.float32))
        for ref in refs
    ]


def _stack(arrays: list[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    return {name: torch.from_numpy(np.stack([a[name] for a in arrays])) for name in arrays[0]}


def _random_fields(kind: FieldKind, out_dim: int, n: int) -> tuple[FieldSpec, dict[str, torch.Tensor]]:
    """``n`` tiny SIRENs of the kind's input size: the shared init plus per-INR noise."""
    spec = FieldSpec(kind="siren", in_dim=kind.in_dim, out_dim=out_dim, hidden=16, depth=2)
    gen = torch.Generator().manual_seed(0)
    params = {name: p + 0.02 * torch.randn(n, *p.shape, generator=gen) for name, p in shared_init(spec, 0).items()}
    return spec, params


@pytest.mark.parametrize("name", FIELD_KINDS.names())
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # random fields may have no surface
def test_kind_contract(name: str, shapes: list[Shape]) -> None:
    kind = field_kind(name)
    assert kind.in_dim in (2, 3)
    assert kind.quality_metrics and all(isinstance(m, MetricSpec) for m in kind.quality_metrics)
    assert len({m.name for m in kind.quality_metrics}) == len(kind.quality_metrics)
    assert kind.surface_level is None or 0 < kind.surface_level <= 1

    rng = np.random.default_rng(0)
    sups = [kind.supervision(s, TINY, rng, f"item{i}") for i, s in enumerate(shapes)]
    n_queries = kind.query_count(TINY, image_hw=shapes[0].image.shape[:2])
    for sup in sups:
        assert sup.coords.shape == (n_queries, kind.in_dim) and sup.coords.dtype == np.float32
        assert np.abs(sup.coords).max() <= 1 and 0 <= sup.targets.min() and sup.targets.max() <= 1

    targets = torch.from_numpy(np.stack([s.targets for s in sups]))
    pred = torch.randn(targets.shape, generator=torch.Generator().manual_seed(1))
    loss = kind.loss(pred, targets)
    assert loss.shape == (2,) and torch.isfinite(loss).all()
    torch.testing.assert_close(kind.loss(pred[1:], targets[1:]), loss[1:])  # per INR, whatever the batch

    teacher = torch.randn(pred.shape, generator=torch.Generator().manual_seed(2))
    assert kind.distill_loss(teacher, teacher).item() == 0  # a perfect match, exactly
    mismatch = kind.distill_loss(pred.requires_grad_(), teacher)
    assert mismatch.dim() == 0 and mismatch.item() > 0
    (grad,) = torch.autograd.grad(mismatch, pred)
    assert grad.abs().sum() > 0

    source = _stack([kind.source_tensors(s, sup, N_REFERENCE, rng, "item") for s, sup in zip(shapes, sups, strict=True)])
    reference = kind.quality_reference(source, torch.device("cpu"))
    assert reference.shape[0] == 2
    spec, params = _random_fields(kind, targets.shape[-1], 2)
    fn = field_fn(spec, params)
    quality = kind.fit_quality(fn, 2, reference, resolution=16, generator=ItemStreams([1, 2]))
    assert set(quality) == {m.name for m in kind.quality_metrics}
    assert all(v.shape == (2,) and torch.isfinite(v).all() for v in quality.values())

    if kind.surface_level is None:
        with pytest.raises(ValueError, match="no surface"):
            kind.decode_points(fn, 2, 32, 16)
    else:
        cloud = kind.decode_points(fn, 2, 32, 16, generator=ItemStreams([1, 2]))
        assert cloud.shape == (2, 32, 3) and cloud.abs().max() <= 1
    try:
        voxels = kind.decode_voxels(fn, 2, 8)
    except ValueError as exc:  # kinds without an inside say so in one line
        assert "\n" not in str(exc)
    else:
        assert voxels.shape == (2, 8, 8, 8) and voxels.dtype == torch.bool


@pytest.mark.parametrize("name", FIELD_KINDS.names())
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_fit_quality_depends_only_on_the_weights_and_the_items(name: str, shapes: list[Shape]) -> None:
    """Same weights, other global RNG state, other INRs around the item (or none): the same numbers, bit for bit."""
    kind = field_kind(name)
    rng = np.random.default_rng(0)
    four = shapes * 2
    sups = [kind.supervision(s, TINY, rng) for s in four]
    reference = kind.quality_reference(_stack([kind.source_tensors(s, sup, N_REFERENCE, rng) for s, sup in zip(four, sups, strict=True)]), torch.device("cpu"))
    spec, params = _random_fields(kind, sups[0].targets.shape[1], 4)
    seeds = [11, 12, 13, 14]

    def quality(rows: slice) -> dict[str, torch.Tensor]:
        sub = {n: p[rows] for n, p in params.items()}
        batch = len(seeds[rows])
        return kind.fit_quality(field_fn(spec, sub), batch, reference[rows], resolution=16, generator=ItemStreams(seeds[rows]))

    torch.manual_seed(0)
    first = quality(slice(0, 4))
    torch.manual_seed(1)
    torch.rand(1000)
    again = quality(slice(0, 4))
    pair, lone = quality(slice(2, 4)), quality(slice(3, 4))
    for metric, values in first.items():
        assert torch.equal(values, again[metric]), metric
        assert torch.equal(values[2:], pair[metric]) and torch.equal(values[3:], lone[metric]), metric


# ---------------------------------------------------------------- dataset cards and builds


def test_builds_validate_the_field_kind_against_the_card_and_the_registry() -> None:
    with pytest.raises(ConfigError, match="not 'sfd'; did you mean 'sdf'"):
        resolve_build(BuildRequest("procshapes", field="sfd"))
    with pytest.raises(ConfigError, match=r"supports fields \['sdf', 'udf', 'occ'\], not 'image'"):
        resolve_build(BuildRequest("procshapes", field="image"))
    with pytest.raises(ConfigError, match="preset 'image' fits 2-D coordinates, but 'udf' fields take 3-D ones"):
        resolve_build(BuildRequest("procshapes", field="udf", preset="image"))
    assert resolve_build(BuildRequest("procshapes", field="occ", preset="tiny"))[1].field_kind == "occ"


def test_a_card_default_field_must_be_one_of_its_kinds() -> None:
    card = DATASETS.get("procshapes").card.model_dump()
    with pytest.raises(ValidationError, match="default_field 'image' is not one of field_kinds"):
        DatasetCard.model_validate(card | {"default_field": "image"})


@pytest.mark.parametrize("name", ["udf", "occ", "image"])
def test_source_targets_match_the_fitting_supervision(name: str) -> None:
    """At the fitted queries, targets recomputed from the stored source equal (udf: approximate) the fitting targets."""
    from nfbench.datasets.procshapes import ProcShapes
    from nfbench.targets import SamplingConfig, normalize_shape

    kind = FIELD_KINDS.get(name)
    cfg = SamplingConfig.preset("tiny")
    rng = np.random.default_rng(0)
    if name == "image":
        image = rng.random((6, 5, 1)).astype(np.float32)
        shape = Shape(image=image)
    else:
        dataset = ProcShapes()
        ref = dataset.list_items(None, 1, 0)[0]
        shape = normalize_shape(dataset.load(None, ref), ref.locator)
    sup = kind.supervision(shape, cfg, rng)
    stored = {k: torch.from_numpy(np.asarray(v))[None] for k, v in kind.source_tensors(shape, sup, 4096, rng).items()}
    coords = torch.from_numpy(sup.coords)[None].float()
    expected = torch.from_numpy(sup.targets)[None].float()
    got = kind.source_targets(stored, coords)
    assert got.shape == expected.shape
    if name == "udf":  # the stored cloud is a 4,096-point sample of the surface the targets used
        assert (got - expected).abs().mean() < 0.05
    else:
        assert torch.equal(got, expected)


def test_sdf_refuses_source_targets_in_one_line() -> None:
    kind = FIELD_KINDS.get("sdf")
    assert kind.source_target_inputs == ()
    with pytest.raises(ValueError, match="sdf datasets store too little"):
        kind.source_targets({}, torch.zeros(1, 2, 3))
