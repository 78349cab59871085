"""Plugins that are wrong in the ways plugin authors get them wrong (for plugin check tests)."""

import torch

from nfbench.method import Method, MethodCard


class WrongShape(Method):
    card = MethodCard(name="wrong-shape", description="predicts one logit per INR", reference="test",
                      input_kind="weights", tasks=("classify",))
    presets = {"tiny": {}}

    def setup(self, spec, field_kind, n_classes):
        self.n_classes = n_classes

    def fit(self, data, progress=None):
        pass

    def predict(self, data, split):
        return torch.zeros(len(data.labels(split)), 1)

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass

    def n_parameters(self):
        return 0


class NotAMethod:
    pass
