"""Neural field architectures as data, their shared initialization and a batched forward."""

from nfbench.fields.spec import FieldSpec, FIELD_PRESETS, field_preset
from nfbench.fields.functional import batched_forward, FieldModule, Params
from nfbench.fields.init import shared_init, params_hash

__all__ = [
    "FieldSpec",
    "FIELD_PRESETS",
    "field_preset",
    "batched_forward",
    "FieldModule",
    "Params",
    "shared_init",
    "params_hash",
]
