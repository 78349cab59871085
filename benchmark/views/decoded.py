"""The shared shape of views decoded from the fields (points, voxels): options, cache, source mode."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import torch
from pydantic import BaseModel, ConfigDict
from torch import Tensor

from nfbench.api.view import View
from nfbench.errors import ConfigError
from nfbench.fields import Params
from nfbench.fields.kinds import FIELD_KINDS, FieldKind
from nfbench.views.cache import DecodedSplit, DecodeSettings, decoded_split
from nfbench.views.context import SplitReader, ViewContext


class DecodedView(View):
    """A view whose items come from decoding each INR (cached), or from the source data with ``--input source``."""

    Options: ClassVar[type[BaseModel]]
    source_name: ClassVar[str]  # the source tensor read with --input source

    def __init__(self, ctx: ViewContext, reader: SplitReader, options: BaseModel, decoded: DecodedSplit | None) -> None:
        super().__init__(ctx.info, reader.split, reader.labels)
        self._ctx = ctx
        self._reader = reader
        self.options = options
        self.decoded = decoded

    @classmethod
    @abstractmethod
    def settings(cls, kind: FieldKind, options: BaseModel) -> DecodeSettings:
        """What determines the decoded data (names the cache)."""

    @classmethod
    def empty_items(cls, data: Tensor) -> Tensor | None:
        """``(B,)`` bool: decoded items that show no surface, where the data tells (default: it does not)."""
        return None

    @classmethod
    @abstractmethod
    def decode(cls, kind: FieldKind, ctx: ViewContext, options: BaseModel, params: Params, gen: torch.Generator) -> Tensor:
        """Decode a chunk of INRs (stacked ``params`` on ``ctx.device``) into ``(B, ...)`` data."""

    @classmethod
    def open(cls, ctx: ViewContext, split: str) -> DecodedView:
        options = ctx.parse_options(cls.Options, cls.name)
        reader = ctx.reader(split)
        if ctx.input_mode == "source":
            if cls.source_name not in reader.source_names():
                raise ConfigError(
                    f"--input source: dataset {ctx.dataset.meta.name!r} stores no source {cls.source_name!r} "
                    f"(it has {reader.source_names()}), so the {cls.name!r} view has no source form"
                )
            return cls(ctx, reader, options, None)
        if ctx.first is not None:  # a head of the split, for timing: decoded afresh when read, never cached
            return cls(ctx, reader, options, None)
        kind = FIELD_KINDS.get(ctx.info.field_kind)
        decoded = decoded_split(
            ctx.cache_root,
            ctx.dataset.fingerprint,
            reader,
            cls.settings(kind, options),
            lambda params, gen: cls.decode(kind, ctx, options, params, gen),
            ctx.device,
            ctx.progress,
            cls.empty_items,
        )
        return cls(ctx, reader, options, decoded)

    def read_source(self, positions: Tensor) -> Tensor:
        return self._reader.source(positions, [self.source_name])[self.source_name]

    def params(self, positions: Tensor) -> Params:
        return self._reader.params(positions)

    def from_params(self, params: Params) -> Tensor:
        """Decode afresh with the cache's settings (from a seeded stream of its own: timing needs the work,
        not the cache's draws), for timing the decode itself."""
        if self._ctx.input_mode == "source":
            raise ConfigError(f"the {self.name!r} view reads stored source data with --input source: it decodes nothing")
        kind = FIELD_KINDS.get(self.info.field_kind)
        device = next(iter(params.values())).device
        gen = torch.Generator(device=device).manual_seed(self.settings(kind, self.options).seed)
        with torch.no_grad():
            return self.decode(kind, self._ctx, self.options, params, gen)

    def read(self, positions: Tensor) -> Tensor:
        if self._ctx.input_mode == "source":
            return self.read_source(positions)
        if self.decoded is None:
            return self.from_params({k: v.to(self._ctx.device) for k, v in self.params(positions).items()}).cpu()
        return self.decoded.read(positions)

    @property
    def decoded_without_surface(self) -> int:
        return 0 if self.decoded is None else self.decoded.no_surface

    @property
    def decode_ms_per_inr(self) -> float:
        """Measured when the cache was made; 0 with ``--input source`` (nothing is decoded) and for an uncached head."""
        return 0.0 if self.decoded is None else 1000.0 * float(self.decoded.decode_seconds.mean())


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
