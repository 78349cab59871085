"""Numbers the papers report, each with its source and data regime, shown beside ours but never ranked with them.

Published weight-space accuracies come from INRs each paper fitted itself (other inits,
augmented copies, splits and budgets), so a leaderboard that sorted them in with nfbench's
runs would compare data, not methods. A dataset page lists them in a table of their own.
``source`` names the paper that reports the number (the method's own, or a later one
that re-ran it); ``regime`` says whose INRs and what about them matters.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PublishedResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field(description="the nfbench dataset whose page shows it")
    method: str = Field(description="nfbench method name where one exists, else the paper's name")
    task: str
    metric: str
    value: float
    source: str = Field(description="paper, and where in it")
    regime: str = Field(description="whose INRs: fitting, init, augmentation, split")


_DWS = "DWSNet's MNIST INRs: SIREN 2-32-32-1, one INR per image from its own init, no augmented copies"
_DWS_F = "DWSNet's Fashion-MNIST INRs: SIREN 2-32-32-1, one INR per image from its own init"
_NFN = "NFN's MNIST INRs: SIREN 2-32-32-1 with the original SIREN init, 10 extra fitted copies per training image"
_INR2VEC = "inr2vec's ModelNet40 INRs: SIREN 3-512x4-1 from one shared init, about 10 augmented copies per shape"
_SHARED = "the nf2vec authors' own fits: one SIREN per shape (inr2vec's setting), and DeepSDF / Functa fitted to the same shapes"
_NAVON = "Navon et al., ICML 2023 (DWSNet)"
_SCALEGMN = "Kalogeropoulos et al., NeurIPS 2024 (ScaleGMN)"
_ZHOU = "Zhou et al., NeurIPS 2023 (NFN)"
_NF2VEC = "Zama Ramirez et al., 2024 (nf2vec)"

PUBLISHED: tuple[PublishedResult, ...] = (
    PublishedResult(dataset="mnist", method="mlp", task="classify", metric="accuracy", value=17.6, source=_NAVON, regime=_DWS),
    PublishedResult(dataset="mnist", method="dwsnet", task="classify", metric="accuracy", value=85.7, source=_NAVON, regime=_DWS),
    PublishedResult(
        dataset="mnist", method="nfn-np", task="classify", metric="accuracy", value=78.5, source=_SCALEGMN + " (re-run)", regime=_DWS
    ),
    PublishedResult(
        dataset="mnist", method="nfn-hnp", task="classify", metric="accuracy", value=79.1, source=_SCALEGMN + " (re-run)", regime=_DWS
    ),
    PublishedResult(dataset="mnist", method="ng-gnn", task="classify", metric="accuracy", value=91.4, source=_SCALEGMN, regime=_DWS),
    PublishedResult(dataset="mnist", method="scalegmn", task="classify", metric="accuracy", value=96.6, source=_SCALEGMN, regime=_DWS),
    PublishedResult(dataset="mnist", method="nfn-np", task="classify", metric="accuracy", value=92.9, source=_ZHOU, regime=_NFN),
    PublishedResult(
        dataset="fashion-mnist", method="dwsnet", task="classify", metric="accuracy", value=67.1, source=_NAVON, regime=_DWS_F
    ),
    PublishedResult(
        dataset="fashion-mnist", method="nfn-np", task="classify", metric="accuracy", value=68.2, source=_SCALEGMN + " (re-run)",
        regime=_DWS_F,
    ),
    PublishedResult(
        dataset="fashion-mnist", method="scalegmn", task="classify", metric="accuracy", value=80.5, source=_SCALEGMN, regime=_DWS_F
    ),
    PublishedResult(dataset="modelnet40", method="nf2vec", task="classify", metric="accuracy", value=87.0, source=_NF2VEC, regime=_INR2VEC),
    PublishedResult(
        dataset="modelnet40", method="dwsnet", task="classify", metric="accuracy", value=71.6, source=_NF2VEC + " (re-run)",
        regime=_INR2VEC,
    ),
    *(
        PublishedResult(dataset=d, method=m, task="classify", metric="accuracy", value=v, source=_NF2VEC + " (Table IX)", regime=_SHARED)
        for d, m, v in (
            ("modelnet40", "deepsdf", 41.2), ("modelnet40", "functa", 87.3),
            ("manifold40", "nf2vec", 86.3), ("manifold40", "deepsdf", 64.9), ("manifold40", "functa", 85.9), ("manifold40", "dwsnet", 69.9),
        )
    ),
    *(
        PublishedResult(dataset="manifold40", method=m, task="reconstruct", metric=metric, value=v, source=_NF2VEC + " (Table VIII)", regime=_SHARED)
        for m, cd, f in (("inr", 0.26, 69.7), ("functa", 2.85, 21.3), ("deepsdf", 6.6, 25.1))
        for metric, v in (("Chamfer distance (their definition, mm)", cd), ("F-score (%)", f))
    ),
)


def published_for(dataset: str) -> list[PublishedResult]:
    return [p for p in PUBLISHED if p.dataset == dataset]
