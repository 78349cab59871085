"""Leaderboards from the committed fixture records: golden markdown, ranking, determinism.

After an intended change of the output, regenerate the golden file with
``NFBENCH_UPDATE_GOLDEN=1 pytest tests/test_leaderboard.py`` and review its diff.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from nfbench.leaderboard import MARKER, build_leaderboards, format_mean_std, rank_entries
from nfbench.errors import DataError
from nfbench.records import load_records, write_embeddings

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "leaderboard_golden.md"


def fixture_records(dest: Path) -> Path:
    """The committed records plus test embeddings for the t-SNE (three separable classes)."""
    shutil.copytree(DATA / "records", dest)
    record = next(r for r in load_records(dest) if (r.dataset, r.task, r.method, r.seed) == ("procshapes", "retrieve", "nf2vec", 0))
    labels = np.repeat(np.arange(3), 15)
    vectors = np.random.default_rng(0).normal(size=(45, 12)) + 4.0 * np.eye(12)[labels]
    write_embeddings(dest, record, vectors, labels, ["cube", "sphere", "torus"])
    return dest


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Path]]:
    """Records and one build of the leaderboards."""
    records = fixture_records(tmp_path_factory.mktemp("lb") / "records")
    out = records.parent / "out"
    return records, out, build_leaderboards(records, out)


def combined_markdown(out: Path) -> str:
    return "".join(f"<!-- file: {p.name} -->\n{p.read_text(encoding='utf-8')}" for p in sorted(out.glob("*.md")))


def table_rows(page: str, section: str) -> list[list[str]]:
    body = page.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split(" | ") for line in body.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in row] for row in rows[1:]]  # drop the header


def test_written_files(built: tuple[Path, Path, list[Path]]) -> None:
    _, out, written = built
    assert sorted(p.relative_to(out).as_posix() for p in written) == [
        "README.md",
        "manifold40.md",
        "plots/manifold40.classify.accuracy-latency.png",
        "plots/procshapes.classify.accuracy-latency.png",
        "plots/procshapes.tsne.png",
        "procshapes.md",
    ]
    for png in out.glob("plots/*.png"):
        data = png.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and b"Software" not in data


def test_matches_golden_markdown(built: tuple[Path, Path, list[Path]]) -> None:
    text = combined_markdown(built[1])
    if os.environ.get("NFBENCH_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_rebuild_is_byte_identical(built: tuple[Path, Path, list[Path]], tmp_path: Path) -> None:
    records, out, written = built
    again = build_leaderboards(records, tmp_path)
    assert [p.relative_to(tmp_path) for p in again] == [p.relative_to(out) for p in written]
    for first, second in zip(written, again):
        assert first.read_bytes() == second.read_bytes(), first.name


def test_ranking_and_mean_std() -> None:
    records = [r for r in load_records(DATA / "records") if (r.dataset, r.task) == ("procshapes", "classify")]
    ranked = rank_entries(records, "accuracy")
    assert [(rank, e.method, len(e.records)) for rank, e in ranked] == [
        (1, "pointnet", 1),
        (2, "nf2vec", 3),
        (3, "mlp", 2),
        (3, "weightstats", 1),  # tie with mlp at 62.5 %: same rank, name order
    ]
    nf2vec = ranked[1][1]
    assert nf2vec.mean("accuracy") == pytest.approx(0.875) and nf2vec.std("accuracy") == pytest.approx(0.025)
    assert [format_mean_std("accuracy", e) for _, e in ranked] == ["90.0", "87.5 ± 2.5", "62.5 ± 17.7", "62.5"]


def test_lower_is_better_and_groups_kept_apart() -> None:
    records = load_records(DATA / "records")
    recon = [r for r in records if r.task == "reconstruct"]
    assert [e.method for _, e in rank_entries(recon, "chamfer")] == ["functa", "nf2vec"]
    classify = [r for r in records if (r.dataset, r.task) == ("manifold40", "classify")]
    rows = [(e.method, e.fingerprint[:8], e.config_hash[:8], len(e.records)) for _, e in rank_entries(classify, "accuracy")]
    assert rows == [
        ("nf2vec", "9e8d7c6b", "7a4fed08", 2),
        ("nf2vec", "a1b2c3d4", "7a4fed08", 1),  # another build of the dataset: its own row
        ("mlp", "9e8d7c6b", "2adb82a3", 1),  # seeds run with different configs: never averaged
        ("mlp", "9e8d7c6b", "5e8baef4", 1),
    ]


def test_tables_in_markdown(built: tuple[Path, Path, list[Path]]) -> None:
    out = built[1]
    procshapes = (out / "procshapes.md").read_text(encoding="utf-8")
    rows = table_rows(procshapes, "classify")
    assert [(r[0], r[1], r[5], r[7]) for r in rows] == [
        ("1", "pointnet", "90.0", "1"),
        ("2", "nf2vec", "87.5 ± 2.5", "3"),
        ("3", "mlp", "62.5 ± 17.7", "2"),
        ("3", "weightstats", "62.5", "1"),
    ]
    assert rows[3][6] == "–"  # weightstats reported no balanced accuracy
    assert [(r[1], r[5]) for r in table_rows(procshapes, "retrieve")] == [("nf2vec", "75.0 ± 7.1"), ("dwsnet", "60.0")]
    manifold = (out / "manifold40.md").read_text(encoding="utf-8")
    assert "| rank | method | preset | data | config |" in manifold  # disambiguating columns only where needed
    assert "| rank | method | preset | input |" in procshapes
    assert "Ranked by **chamfer** (lower is better)" in manifold
    for link in re.findall(r"\]\((plots/[^)]+)\)", procshapes + manifold):
        assert (out / link).is_file(), link
    index = (out / "README.md").read_text(encoding="utf-8")
    assert "| [procshapes](procshapes.md) | classify, retrieve | 5 | 10 |" in index


def test_rebuild_removes_stale_generated_files_only(tmp_path: Path) -> None:
    records = fixture_records(tmp_path / "records")
    out = tmp_path / "out"
    build_leaderboards(records, out)
    (out / "notes.md").write_text("# Hand-made notes\n\nbody\n")
    shutil.rmtree(records / "manifold40")
    build_leaderboards(records, out)
    assert sorted(p.name for p in out.glob("*.md")) == ["README.md", "notes.md", "procshapes.md"]
    assert not list(out.glob("plots/manifold40*"))
    assert (out / "procshapes.md").read_text(encoding="utf-8").startswith(MARKER)
    index = (out / "README.md").read_text(encoding="utf-8")
    assert "- [Hand-made notes](notes.md)" in index and "manifold40" not in index


def test_no_records(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    written = build_leaderboards(tmp_path / "empty", tmp_path / "out")
    assert written == [tmp_path / "out" / "README.md"]
    assert "No result records found." in written[0].read_text(encoding="utf-8")


def test_missing_records_folder_is_an_error(tmp_path: Path) -> None:
    """A mistyped folder must not rebuild an empty leaderboard over the committed pages."""
    with pytest.raises(DataError, match="no records folder"):
        build_leaderboards(tmp_path / "typo", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_tsne_needs_the_chosen_method(built: tuple[Path, Path, list[Path]], tmp_path: Path) -> None:
    written = build_leaderboards(built[0], tmp_path, tsne_method="dwsnet")  # dwsnet has no embeddings file
    assert not any(p.name.endswith("tsne.png") for p in written)
    assert "## Embeddings" not in (tmp_path / "procshapes.md").read_text(encoding="utf-8")
