"""``inr``: the suite's individual INRs themselves, the reference row of the reconstruct task.

One SIREN per shape is the storage format every other representation is compared with
(the nf2vec benchmark's "individual SIRENs" row): its clouds are decoded straight from
each stored field, with the same decoder and resolution the build's own fit quality uses.
Nothing is trained and it predicts no class, so it runs ``reconstruct`` only.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from rich.progress import Progress
from torch import Tensor

from nfbench.api import DataInfo, Method, MethodCard, MethodConfig, Preset, View
from nfbench.decode.clouds import decode_clouds
from nfbench.fields.kinds import FIELD_KINDS, FieldKind


class StoredINRConfig(MethodConfig):
    resolution: int = Field(ge=8, description="grid cells per side of the decode (marching cubes, or projection seeds for udf)")
    batch_size: int = Field(ge=1, description="INRs decoded together")


class StoredINR(Method):
    card = MethodCard(
        name="inr",
        description="the stored individual INRs, decoded as they are: the reference row of reconstruction",
        reference="Sitzmann et al., NeurIPS 2020 (one SIREN per shape; the nf2vec benchmark's individual-SIREN row)",
        view="field",
        field_kinds=("udf", "sdf", "occ"),
        training="none",
        symmetry="none",
    )
    Config = StoredINRConfig
    presets = {
        "paper": Preset(config=StoredINRConfig(resolution=128, batch_size=16), departs=""),
        "cpu": Preset(config=StoredINRConfig(resolution=64, batch_size=16), departs="64^3 decode grid (the cpu builds' fit quality)"),
        "tiny": Preset(config=StoredINRConfig(resolution=16, batch_size=4), departs="16^3 decode grid: seconds, for tests"),
    }

    def setup(self, info: DataInfo) -> None:
        self.kind: FieldKind = FIELD_KINDS.get(info.field_kind)
        self.n_params = info.spec.n_params

    def fit(self, train: View, val: View, progress: Progress | None = None) -> None:
        """Nothing to learn: the representation is the stored INRs."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def n_parameters(self) -> int:
        """Per shape: the stored INR."""
        return self.n_params

    def reconstruct(self, view: View, n_points: int) -> Tensor:
        cfg = self.config
        return decode_clouds(view, self.kind, lambda b: b.data, n_points, cfg.resolution, self.device, cfg.batch_size, self.seed)
