"""How many supervision queries a shape gets, where they lie, and how inside/outside is decided.

The fitter stacks the supervision of many shapes into one tensor, so the number of
queries ``Q`` must depend only on this config and the field kind
(``FieldKind.query_count``), never on the shape.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SignMethod = Literal["parity", "vote", "flood", "flood_vote", "winding", "ray_winding", "hybrid_winding"]
"""Inside test for meshes (see ``nfbench.targets.inside``; compared in leaderboards/sdf_sign.md).

``hybrid_winding`` is the default: as accurate as the exact winding number on damaged
meshes, and the only fast method that never puts a point outside a raw ModelNet10
mesh's bounding box inside it, at the cost of ``ray_winding`` (leaderboards/sdf_sign.md).
``parity`` is Open3D's ``compute_signed_distance`` sign, the inr2vec setting, and breaks
on raw CAD meshes.
"""


class SamplingConfig(BaseModel):
    """Query counts per group, noise scales, voxel resolution and the mesh inside test.

    Query groups, in this order in the supervision arrays: ``near`` (surface points plus
    N(0, sigma_near^2) noise), ``medium``, ``far``, ``uniform`` in [-1, 1]^3, and
    ``surface`` (noise-free surface points). All are clipped to [-1, 1]^3. The defaults
    are the inr2vec/nf2vec counts; ``surface`` is our addition (2 % of the total) so the
    zero level set is seen exactly (udf target 1, sdf target 0.5).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    near: int = Field(250_000, ge=0)
    medium: int = Field(200_000, ge=0)
    far: int = Field(25_000, ge=0)
    uniform: int = Field(25_000, ge=0)
    surface: int = Field(10_000, ge=0)
    sigma_near: float = Field(0.003, gt=0)  # inr2vec code; its paper text says 0.001
    sigma_medium: float = Field(0.01, gt=0)
    sigma_far: float = Field(0.1, gt=0)
    voxel_res: int = Field(64, ge=2, le=512)  # occ grids made from meshes, and the occ query grid
    sign: SignMethod = "hybrid_winding"
    sign_rays: int = Field(15, ge=1, le=255)  # rays per query: vote, flood probes, ray_winding, hybrid_winding
    flood_res: int = Field(128, ge=8, le=1024)  # surface voxelization for flood / flood_vote

    @model_validator(mode="after")
    def _some_queries(self) -> SamplingConfig:
        if self.n_queries == 0:
            raise ValueError("at least one query group must be non-empty")
        return self

    @property
    def n_queries(self) -> int:
        """Queries per shape for udf and sdf fields."""
        return self.near + self.medium + self.far + self.uniform + self.surface

    @property
    def group_sizes(self) -> dict[str, int]:
        """Group name -> count, in the order the groups appear in the supervision arrays."""
        return {"near": self.near, "medium": self.medium, "far": self.far, "uniform": self.uniform, "surface": self.surface}

    @classmethod
    def preset(cls, name: str) -> SamplingConfig:
        from nfbench.api.registry import did_you_mean

        if name not in SAMPLING_PRESETS:
            raise KeyError(f"unknown sampling preset {name!r}{did_you_mean(name, SAMPLING_PRESETS)}")
        return SAMPLING_PRESETS[name]


SAMPLING_PRESETS: dict[str, SamplingConfig] = {
    # inr2vec / nf2vec: 510,000 queries a shape, 64^3 voxels.
    "paper": SamplingConfig(),
    # 1/10 of the paper counts (51,000 queries), 32^3 voxels, 5 rays per inside test: on SHREC'16
    # the sign agrees with 15 rays on 99.9 % of the queries at 40 % of the time.
    "cpu": SamplingConfig(near=25_000, medium=20_000, far=2_500, uniform=2_500, surface=1_000, voxel_res=32, sign_rays=5),
    # 1/125 of the paper counts (4,080 queries), 16^3 voxels: unit tests and smoke runs.
    "tiny": SamplingConfig(near=2_000, medium=1_600, far=200, uniform=200, surface=80, voxel_res=16),
}

