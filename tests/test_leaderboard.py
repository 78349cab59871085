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
from typer.testing import CliRunner

import nfbench.leaderboard as leaderboard
from nfbench.api.metrics import COMMON_METRICS, MetricCatalog, MetricSpec
from nfbench.cli.app import app
from nfbench.errors import DataError
from nfbench.leaderboard import MARKER, build_leaderboards, format_mean_std, rank_entries
from nfbench.plots import Curve
from nfbench.records import SCHEMA_VERSION, load_records, migrate_records, write_embeddings
from nfbench.tasks import TASKS

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "leaderboard_golden.md"
COMMITTED = Path(__file__).resolve().parent.parent / "leaderboards"

RECONSTRUCT_METRICS = (  # no reconstruct task is registered yet; the fixtures have records of one
    MetricSpec(
        name="chamfer",
        higher_is_better=False,
        definition="mean over both directions of the nearest-neighbour L2 distance, 10K points each",
    ),
    MetricSpec(name="f_score", higher_is_better=True, percent=True, definition="harmonic mean of precision and recall at threshold 0.01"),
)


def task_catalog(*extra: MetricSpec) -> MetricCatalog:
    """The registered tasks' metrics and the common ones (``all_metrics`` without field kinds)."""
    specs = [*COMMON_METRICS, *(spec for name in TASKS.names() for spec in TASKS.get(name).card.metrics), *extra]
    return MetricCatalog(specs)


CATALOG = task_catalog(*RECONSTRUCT_METRICS)


def fixture_records(dest: Path) -> Path:
    """The committed fixture records, migrated to the current layout, plus test embeddings
    for one t-SNE (three separable classes)."""
    shutil.copytree(DATA / "records", dest)
    migrate_records(dest)
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
    return records, out, build_leaderboards(records, out, CATALOG)


def combined_markdown(out: Path) -> str:
    return "".join(f"<!-- file: {p.name} -->\n{p.read_text(encoding='utf-8')}" for p in sorted(out.glob("*.md")))


def table_rows(page: str, section: str) -> list[list[str]]:
    body = page.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split(" | ") for line in body.splitlines() if line.startswith("| ") and not line.startswith("| rank |")]
    return [[c.strip() for c in row] for row in rows]  # every table of the section, without headers


def test_written_files(built: tuple[Path, Path, list[Path]]) -> None:
    _, out, written = built
    assert sorted(p.relative_to(out).as_posix() for p in written) == [
        "README.md",
        "manifold40.md",
        "plots/manifold40.classify.accuracy-latency.png",
        "plots/manifold40.reconstruct.chamfer-latency.png",  # a latency plot for every task, not just classify
        "plots/procshapes.classify.accuracy-latency.png",
        "plots/procshapes.nf2vec.tsne.png",  # per method with stored embeddings
        "plots/procshapes.retrieve.map_10-latency.png",
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
    again = build_leaderboards(records, tmp_path, CATALOG)
    assert [p.relative_to(tmp_path) for p in again] == [p.relative_to(out) for p in written]
    for first, second in zip(written, again, strict=True):
        assert first.read_bytes() == second.read_bytes(), first.name


def test_ranking_and_mean_std(built: tuple[Path, Path, list[Path]]) -> None:
    records = [r for r in load_records(built[0]) if (r.dataset, r.task, r.input_mode) == ("procshapes", "classify", "fields")]
    ranked = rank_entries(records, "accuracy", higher_is_better=True)
    assert [(rank, e.method, len(e.records)) for rank, e in ranked] == [
        (1, "pointnet", 1),
        (2, "nf2vec", 3),
        (3, "mlp", 2),
        (3, "weightstats", 1),  # tie with mlp at 62.5 %: same rank, name order
    ]
    nf2vec = ranked[1][1]
    assert nf2vec.mean("accuracy") == pytest.approx(0.875) and nf2vec.std("accuracy") == pytest.approx(0.025)
    accuracy = CATALOG.get("accuracy")
    assert [format_mean_std(e, "accuracy", accuracy) for _, e in ranked] == ["90.0", "87.5 ± 2.5", "62.5 ± 17.7", "62.5"]


def test_groups_kept_apart(built: tuple[Path, Path, list[Path]]) -> None:
    classify = [r for r in load_records(built[0]) if (r.dataset, r.task) == ("manifold40", "classify")]
    rows = [(e.method, e.fingerprint[:8], e.config_hash[:8], len(e.records)) for _, e in rank_entries(classify, "accuracy", True)]
    assert rows == [
        ("nf2vec", "9e8d7c6b", "7a4fed08", 2),
        ("nf2vec", "a1b2c3d4", "7a4fed08", 1),  # another build of the dataset: its own row
        ("mlp", "9e8d7c6b", "2adb82a3", 1),  # seeds run with different configs: never averaged
        ("mlp", "9e8d7c6b", "5e8baef4", 1),
    ]


def test_direction_comes_from_the_metric_spec(built: tuple[Path, Path, list[Path]], tmp_path: Path) -> None:
    records, out, _ = built
    manifold = (out / "manifold40.md").read_text(encoding="utf-8")
    assert "Ranked by **chamfer** (lower is better)" in manifold
    assert [r[1] for r in table_rows(manifold, "reconstruct")] == ["functa", "nf2vec"]
    flipped = task_catalog(RECONSTRUCT_METRICS[0].model_copy(update={"higher_is_better": True}), RECONSTRUCT_METRICS[1])
    build_leaderboards(records, tmp_path, flipped)
    manifold = (tmp_path / "manifold40.md").read_text(encoding="utf-8")
    assert "Ranked by **chamfer** (higher is better)" in manifold
    assert [r[1] for r in table_rows(manifold, "reconstruct")] == ["nf2vec", "functa"]


def test_a_metric_without_spec_is_an_error(built: tuple[Path, Path, list[Path]], tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        build_leaderboards(built[0], tmp_path / "out", task_catalog())  # nobody declares chamfer
    message = str(err.value)
    assert "manifold40/9e8d7c6b5a49/reconstruct/" in message and "'chamfer' has no MetricSpec" in message
    assert "\n" not in message and not (tmp_path / "out").exists()


def test_tables_in_markdown(built: tuple[Path, Path, list[Path]]) -> None:
    out = built[1]
    procshapes = (out / "procshapes.md").read_text(encoding="utf-8")
    rows = table_rows(procshapes, "classify")
    assert [(r[0], r[1], r[3], r[5], r[7]) for r in rows] == [
        ("1", "pointnet", "unknown", "90.0", "1"),  # v1 input kind "points" named no view
        ("2", "nf2vec", "weights", "87.5 ± 2.5", "3"),
        ("3", "mlp", "weights", "62.5 ± 17.7", "2"),
        ("3", "weightstats", "weights", "62.5", "1"),
        ("1", "dgcnn", "points", "95.0", "1"),  # the upper-bounds table ranks on its own
    ]
    assert rows[3][6] == "–"  # weightstats reported no balanced accuracy
    retrieve = table_rows(procshapes, "retrieve")
    assert [(r[1], r[2], r[4], r[5], r[6]) for r in retrieve] == [
        ("nf2vec", "gpu", "1,580,544", "1,312,513", "82.0"),  # training-only parameters: a column when any are recorded
        ("nf2vec", "cpu", "2,893,057", "0", "75.0 ± 7.1"),
        ("dwsnet", "cpu", "98,306", "0", "60.0"),
    ]
    manifold = (out / "manifold40.md").read_text(encoding="utf-8")
    assert "| rank | method | preset | data | config | view |" in manifold  # disambiguating columns only where needed
    assert "| rank | method | preset | view | parameters | accuracy (%) |" in procshapes
    assert "| rank | method | preset | view | parameters | training-only parameters | map@10 (%) |" in procshapes
    for link in re.findall(r"\]\((plots/[^)]+)\)", procshapes + manifold):
        assert (out / link).is_file(), link
    index = (out / "README.md").read_text(encoding="utf-8")
    assert "| [procshapes](procshapes.md) | classify, retrieve | 6 | 12 |" in index


def test_source_records_are_upper_bounds_in_their_own_table(built: tuple[Path, Path, list[Path]]) -> None:
    procshapes = (built[1] / "procshapes.md").read_text(encoding="utf-8")
    classify = procshapes.split("## classify\n", 1)[1].split("\n## ", 1)[0]
    ranked, upper = classify.split("### classify: upper bounds from the source data\n", 1)
    assert "dgcnn" not in ranked and "| 1 | dgcnn | cpu | points |" in upper
    assert "not the INRs" in upper
    assert "upper bounds" not in procshapes.split("## retrieve\n", 1)[1]  # no source records there: no sub-table


def test_rebuild_removes_stale_generated_files_only(tmp_path: Path) -> None:
    records = fixture_records(tmp_path / "records")
    out = tmp_path / "out"
    build_leaderboards(records, out, CATALOG)
    (out / "notes.md").write_text("# Hand-made notes\n\nbody\n")
    shutil.rmtree(records / "manifold40")
    build_leaderboards(records, out, CATALOG)
    assert sorted(p.name for p in out.glob("*.md")) == ["README.md", "notes.md", "procshapes.md"]
    assert not list(out.glob("plots/manifold40*"))
    assert (out / "procshapes.md").read_text(encoding="utf-8").startswith(MARKER)
    index = (out / "README.md").read_text(encoding="utf-8")
    assert "- [Hand-made notes](notes.md)" in index and "manifold40" not in index


def test_no_records(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    written = build_leaderboards(tmp_path / "empty", tmp_path / "out", CATALOG)
    assert written == [tmp_path / "out" / "README.md"]
    assert "No result records found." in written[0].read_text(encoding="utf-8")


def test_missing_records_folder_is_an_error(tmp_path: Path) -> None:
    """A mistyped folder must not rebuild an empty leaderboard over the committed pages."""
    with pytest.raises(DataError, match="no records folder"):
        build_leaderboards(tmp_path / "typo", tmp_path / "out", CATALOG)
    assert not (tmp_path / "out").exists()


def test_old_layout_is_an_error_not_an_empty_board(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nfbench leaderboard migrate"):
        build_leaderboards(DATA / "records", tmp_path / "out", CATALOG)


def test_tsne_for_every_method_with_enough_embeddings(built: tuple[Path, Path, list[Path]], tmp_path: Path) -> None:
    records = tmp_path / "records"
    shutil.copytree(built[0], records)
    by_method = {r.method: r for r in load_records(records) if (r.dataset, r.task, r.seed) == ("procshapes", "retrieve", 0)}
    labels = np.repeat(np.arange(3), 5)
    write_embeddings(records, by_method["dwsnet"], np.random.default_rng(1).normal(size=(15, 4)), labels, ["cube", "sphere", "torus"])
    classify = next(r for r in load_records(records) if (r.dataset, r.task, r.method, r.seed) == ("procshapes", "classify", "mlp", 0))
    write_embeddings(records, classify, np.zeros((3, 2)), np.arange(3), ["cube", "sphere", "torus"])  # too few to lay out
    written = build_leaderboards(records, tmp_path / "out", CATALOG)
    assert sorted(p.name for p in written if p.name.endswith("tsne.png")) == ["procshapes.dwsnet.tsne.png", "procshapes.nf2vec.tsne.png"]
    page = (tmp_path / "out" / "procshapes.md").read_text(encoding="utf-8")
    embeddings = page.split("## Embeddings\n", 1)[1]
    assert embeddings.index("plots/procshapes.dwsnet.tsne.png") < embeddings.index("plots/procshapes.nf2vec.tsne.png")
    assert "dwsnet (cpu, seed 0, retrieve run)" in embeddings and "mlp" not in embeddings


def test_committed_leaderboards_are_up_to_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The committed pages are what ``nfbench leaderboard build`` makes of the committed
    records (plots are not drawn here: the pages' text is what this guards)."""
    monkeypatch.setattr(leaderboard, "latency_plot", lambda points, path, *labels: path)
    monkeypatch.setattr(leaderboard, "tsne_plot", lambda embeddings, path, title: path)
    for page in COMMITTED.glob("*.md"):
        if not page.read_text(encoding="utf-8").startswith(MARKER):
            shutil.copy(page, tmp_path)  # the index lists the hand-written pages
    shutil.copytree(COMMITTED / leaderboard.NOTES, tmp_path / leaderboard.NOTES)  # hand-written notes end their pages
    written = build_leaderboards(COMMITTED / "records", tmp_path, task_catalog())
    for path in written:
        if path.suffix == ".md":
            assert path.read_text(encoding="utf-8") == (COMMITTED / path.name).read_text(encoding="utf-8"), path.name
        else:
            assert (COMMITTED / "plots" / path.name).is_file(), path.name


def test_default_catalog_is_every_registered_metric(built: tuple[Path, Path, list[Path]], tmp_path: Path) -> None:
    pytest.importorskip("nfbench.fields.kinds", reason="field kinds (whose fit-quality metrics all_metrics gathers) not there yet")
    records = tmp_path / "records"
    shutil.copytree(built[0], records)
    shutil.rmtree(records / "manifold40" / "9e8d7c6b5a49" / "reconstruct")  # no reconstruct task is registered
    build_leaderboards(records, tmp_path / "out")
    assert (tmp_path / "out" / "procshapes.md").read_text(encoding="utf-8") == (built[1] / "procshapes.md").read_text(encoding="utf-8")


def test_migrate_command(tmp_path: Path) -> None:
    records = tmp_path / "records"
    shutil.copytree(DATA / "records", records)
    first = CliRunner().invoke(app, ["leaderboard", "migrate", str(records)])
    assert first.exit_code == 0, first.output
    assert "migrated 19 records; 0 already current" in first.output
    assert f"v1 -> v{SCHEMA_VERSION}: {records / 'procshapes' / 'classify' / 'mlp.cpu.seed0.json'} -> " in first.output
    again = CliRunner().invoke(app, ["leaderboard", "migrate", str(records)])
    assert again.exit_code == 0 and "migrated 0 records; 19 already current" in again.output


def test_learning_curve_sections_and_plot(tmp_path: Path) -> None:
    """Records trained on the first N INRs per class get a section per N and one curve per method."""
    from nfbench.records import write_record

    records = fixture_records(tmp_path / "records")
    base = next(r for r in load_records(records) if (r.dataset, r.task, r.method) == ("procshapes", "classify", "mlp"))
    for n, acc in ((5, 0.4), (10, 0.6)):
        for seed in (0, 1):
            metrics = {**base.metrics, "accuracy": acc + 0.01 * seed}
            short = 10 * base.dataset_summary["classes"] - 1  # one class has only 9 train INRs
            details = base.details | ({"train_inrs": short} if n == 10 else {})  # as the runner records it
            write_record(records, base.model_copy(update={"train_per_class": n, "seed": seed, "metrics": metrics, "details": details}))
    out = tmp_path / "out"
    written = build_leaderboards(records, out, CATALOG)
    page = (out / "procshapes.md").read_text(encoding="utf-8")
    short = 10 * base.dataset_summary["classes"] - 1
    ten = f"classify, trained on the first 10 INRs per class ({short} train INRs: classes with fewer than 10 give all they have)"
    assert page.index("## classify\n") < page.index("## classify, trained on the first 5 INRs per class\n") < page.index(f"## {ten}")
    assert table_rows(page, ten)[0][:4] == ["1", "mlp", "cpu", "weights"]
    on_page = [r for r in load_records(records) if (r.dataset, r.task) == ("procshapes", "classify")]
    sections = {s.train_per_class: s for s in leaderboard._sections(on_page)}
    for n, expected in ((5, 5.0), (10, short / base.dataset_summary["classes"])):  # where the curve's points sit
        (_, entry), = sections[n].ranked(CATALOG)[0]
        assert leaderboard.per_class(sections[n], entry) == pytest.approx(expected)
    curve = out / "plots" / "procshapes.classify.accuracy-learning-curve.png"
    assert curve in written and curve.exists() and "## Learning curve: classify" in page
    assert len(list(records.glob("procshapes/*/classify/mlp.cpu.train*.seed*.json"))) == 4
    rates = [row for row in table_rows(page, "Learning curve: classify") if row[0] != "curve"]
    assert [row[:2] for row in rates] == [["mlp (cpu)", "2"]]  # two points: both slopes are the one segment
    assert rates[0][2] == rates[0][3] and float(rates[0][2]) > 0


def test_doubling_rates_show_a_slowing_curve() -> None:
    """The least-squares slope of mean against log2 N, and the last segment's slope."""
    steady = Curve("a", (10.0, 20.0, 40.0), (30.0, 35.0, 40.0), (0.0,) * 3)
    assert leaderboard.doubling_rates(steady) == pytest.approx((5.0, 5.0))
    slowing = Curve("b", (10.0, 20.0, 40.0), (20.0, 40.0, 44.0), (0.0,) * 3)
    ls, last = leaderboard.doubling_rates(slowing)
    assert ls == pytest.approx(12.0) and last == pytest.approx(4.0)


def test_hand_written_notes_end_their_dataset_page_and_survive_rebuilds(tmp_path: Path) -> None:
    records = fixture_records(tmp_path / "records")
    out = tmp_path / "out"
    notes = out / "notes" / "procshapes.md"
    notes.parent.mkdir(parents=True)
    notes.write_text("nf2vec is below its paper because of scale.\n", encoding="utf-8")
    build_leaderboards(records, out, CATALOG)
    build_leaderboards(records, out, CATALOG)
    page = (out / "procshapes.md").read_text(encoding="utf-8")
    assert page.rstrip().endswith("## Notes\n\nnf2vec is below its paper because of scale.")
    assert notes.read_text(encoding="utf-8") == "nf2vec is below its paper because of scale.\n"


def test_published_numbers_sit_in_their_own_table_never_among_ranked_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nfbench import leaderboard
    from nfbench.published import PublishedResult

    paper = PublishedResult(
        dataset="procshapes", method="nf2vec", task="classify", metric="accuracy", value=99.5, source="Someone et al., 2030",
        regime="their own INRs",
    )
    monkeypatch.setattr(leaderboard, "published_for", lambda dataset: [paper] if dataset == "procshapes" else [])
    out = tmp_path / "out"
    build_leaderboards(fixture_records(tmp_path / "records"), out, CATALOG)
    page = (out / "procshapes.md").read_text(encoding="utf-8")
    ranked, _, published = page.partition("## Published numbers")
    assert "99.5" not in ranked and "Someone et al., 2030" not in ranked
    assert "| nf2vec | classify | accuracy | 99.5 | Someone et al., 2030 | their own INRs |" in published


def test_decodes_without_a_surface_get_a_column_only_where_some_record_has_them(tmp_path: Path) -> None:
    from nfbench.records import write_record

    records = fixture_records(tmp_path / "records")
    quiet = build_leaderboards(records, tmp_path / "quiet", CATALOG)
    assert not any("decoded without a surface" in p.read_text(encoding="utf-8") for p in quiet if p.suffix == ".md")
    base = next(r for r in load_records(records) if (r.dataset, r.task, r.method) == ("procshapes", "classify", "mlp"))
    write_record(records, base.model_copy(update={"method": "points-net", "view": "points", "details": base.details | {leaderboard.NO_SURFACE: 3}}))
    out = tmp_path / "out"
    build_leaderboards(records, out, CATALOG)
    page = (out / "procshapes.md").read_text(encoding="utf-8")
    assert any(line.startswith("| rank |") and line.endswith("| test INRs decoded without a surface |") for line in page.splitlines())
    rows = {row[1]: row[-1] for row in table_rows(page, "classify")}  # the last column
    assert rows["points-net"] == "3" and rows["mlp"] == "0"


def test_a_task_floor_is_stated_and_values_at_it_rank_nothing(tmp_path: Path) -> None:
    from nfbench.records import write_record

    records = fixture_records(tmp_path / "records")
    base = next(r for r in load_records(records) if (r.dataset, r.task, r.method) == ("procshapes", "classify", "mlp"))
    for method, accuracy, at_floor in (("mlp", 0.97, True), ("stats", 0.6, False)):
        details = base.details | {leaderboard.FLOOR: {"accuracy": 0.98}, leaderboard.AT_FLOOR: {"accuracy": at_floor}}
        write_record(records, base.model_copy(update={"method": method, "metrics": {"accuracy": accuracy}, "details": details}))
    out = tmp_path / "out"
    build_leaderboards(records, out, CATALOG)
    page = (out / "procshapes.md").read_text(encoding="utf-8")
    ranks = {row[1]: row[0] for row in table_rows(page, "classify")}
    assert ranks["mlp"] == leaderboard.FLOOR_MARK and ranks["stats"] != leaderboard.FLOOR_MARK
    assert f"of build `{base.dataset_fingerprint[:8]}`: accuracy 98.0" in page
