"""Surface clouds of every item of a view, decoded from whatever field a method makes of each batch.

The ``Reconstructor`` capability of every method goes through here: the individual INRs
decode their own field, nf2vec its decoder conditioned on embeddings, shared networks
their latent-conditioned field. Each item draws from its own seeded stream, so a shape
decodes the same cloud in any batch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from nfbench.api.view import View, ViewBatch
from nfbench.decode.common import FieldFn
from nfbench.fields.kinds import FieldKind
from nfbench.fitting.streams import ItemStreams, position_seed


def decode_clouds(
    view: View,
    kind: FieldKind,
    field_of: Callable[[ViewBatch], FieldFn],
    n_points: int,
    resolution: int,
    device: torch.device,
    batch_size: int,
    seed: int,
) -> Tensor:
    """``(N, n_points, 3)`` on the CPU: ``kind``'s cloud decoder on ``field_of(batch)`` for each batch of ``view``."""
    clouds = []
    for batch in view.batches(batch_size):
        batch = batch.to(device)
        streams = ItemStreams([position_seed(seed, int(i)) for i in batch.index.tolist()])
        fn = field_of(batch)
        clouds.append(kind.decode_points(fn, len(batch), n_points, resolution, device=device, generator=streams).detach().cpu())
    return torch.cat(clouds)
