"""Method modules (one per method), registered lazily by name.

Third-party packages add methods through the ``nfbench.methods`` entry-point group
(``name = "package.module:Class"``); see CONTRIBUTING.md.
"""

from nfbench.api.registry import Registry

METHODS: Registry = Registry("method", entry_point_group="nfbench.methods")

for _name, _ref in {
    "nf2vec": "nfbench.methods.nf2vec:Nf2Vec",
    "mlp": "nfbench.methods.weight_baselines:FlatMLP",
    "stats": "nfbench.methods.weight_baselines:WeightStats",
}.items():
    METHODS.register_lazy(_name, _ref)
