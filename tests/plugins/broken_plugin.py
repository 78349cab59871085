"""Plugins that are wrong in the ways plugin authors get them wrong (for plugin check tests)."""

import sys
import time

import torch

from nfbench.api import Method, MethodCard, MethodConfig, Preset

_PRESETS = {p: Preset(config=MethodConfig(), departs="") for p in ("paper", "cpu", "tiny")}


def _card(name: str) -> MethodCard:
    return MethodCard(name=name, description="broken on purpose", reference="test", view="weights",
                      field_kinds=("udf", "sdf", "occ", "image"), training="none", symmetry="none")


class _Base(Method):
    Config = MethodConfig
    presets = _PRESETS

    def setup(self, info):
        self.n_classes = info.n_classes

    def fit(self, train, val, progress=None):
        pass

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass

    def n_parameters(self):
        return 0


class WrongShape(_Base):
    card = _card("wrong-shape")

    def predict(self, view):
        return torch.zeros(len(view), 1)


class NaNOutputs(_Base):
    card = _card("nan-outputs")

    def predict(self, view):
        return torch.full((len(view), self.n_classes), float("nan"))


class Hangs(_Base):
    card = _card("hangs")

    def fit(self, train, val, progress=None):
        while True:
            time.sleep(0.01)

    def predict(self, view):
        return torch.zeros(len(view), self.n_classes)


class Exits(_Base):
    card = _card("exits")

    def fit(self, train, val, progress=None):
        sys.exit(3)

    def predict(self, view):
        return torch.zeros(len(view), self.n_classes)


class PeeksAtTest(_Base):
    """Reaches past its view for the dataset's test split through the reader it wraps."""

    card = _card("peeks")

    def fit(self, train, val, progress=None):
        reader = train._reader
        dataset = reader._dataset
        dataset.read_params(dataset.split_indices("test")[:1])

    def predict(self, view):
        return torch.zeros(len(view), self.n_classes)


class BatchDependent(_Base):
    """Standardizes outputs over the batch: an item's logits depend on its neighbours."""

    card = _card("batch-dependent")

    def predict(self, view):
        x = torch.stack([b.data["layers.0.bias"].sum(1) for b in view.batches(len(view))][0:1]).flatten()
        x = (x - x.mean()) / (x.std() + 1e-6) if len(x) > 1 else x * 0
        return x[:, None].expand(-1, self.n_classes) * torch.arange(self.n_classes)


class MissingPreset(_Base):
    card = _card("missing-preset")
    presets = {"tiny": Preset(config=MethodConfig(), departs="")}

    def predict(self, view):
        return torch.zeros(len(view), self.n_classes)


class NotAMethod:
    pass
