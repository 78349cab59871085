"""Neural field architectures as data, their shared initialization and a batched forward.

What a field represents (udf, sdf, occ, image) is its kind, in ``nfbench.fields.kinds``;
it is not imported here because kinds pull in the target and decoder code.
"""

from nfbench.fields.functional import FieldModule, Params, batched_forward
from nfbench.fields.init import params_hash, shared_init
from nfbench.fields.spec import FIELD_PRESETS, FieldSpec, field_preset

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
