"""A method's config for one run: a named preset plus validated ``--set key=value`` overrides."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from nfbench.api import Method, MethodConfig, did_you_mean
from nfbench.errors import ConfigError


def parse_override(item: str) -> tuple[str, Any]:
    """``key=value``; the value is read as JSON when it parses (numbers, booleans, lists), else as text."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected key=value")
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


def resolve_config(cls: type[Method], preset: str | None, overrides: Sequence[str] = ()) -> tuple[str, MethodConfig]:
    """The preset's config with overrides applied, validated by the method's config class."""
    name = preset or cls.default_preset
    if name not in cls.presets:
        raise ConfigError(f"method {cls.card.name!r} has no preset {name!r}{did_you_mean(name, cls.presets)}")
    values = cls.presets[name].config.model_dump()
    fields = cls.Config.model_fields
    for item in overrides:
        key, value = parse_override(item)
        head, _, rest = key.partition(".")
        if head not in fields:
            raise ConfigError(f"--set {key}: {cls.card.name} has no config key {head!r}{did_you_mean(head, fields)}")
        if rest:  # a field of a nested config, e.g. augment.permute=true
            nested = values[head]
            sub_fields = getattr(fields[head].annotation, "model_fields", None)
            if not isinstance(nested, dict) or sub_fields is None or "." in rest:
                raise ConfigError(f"--set {key}: {head!r} has no sub-keys; set it whole with --set {head}=<value>")
            if rest not in sub_fields:
                raise ConfigError(f"--set {key}: {cls.card.name}'s {head} has no key {rest!r}{did_you_mean(rest, sub_fields)}")
            values[head] = {**nested, rest: value}
        else:
            values[key] = value
    try:
        return name, cls.Config.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(map(str, first["loc"]))
        bad: Any = values
        for part in first["loc"]:
            bad = bad.get(part) if isinstance(bad, dict) else bad
        raise ConfigError(f"--set {key}={bad!r}: {first['msg']} ({cls.card.name} config)") from exc
