"""Method modules (one per method), registered lazily by name: one module plus one line here.

Third-party packages add methods through the ``nfbench.methods`` entry-point group
(``name = "package.module:Class"``); see CONTRIBUTING.md. Every entry is checked when it
is first loaded: a ``nfbench.api.Method`` subclass whose card name matches, with a typed
``Config`` and validated ``paper``, ``cpu`` and ``tiny`` presets.
"""

from nfbench.api.method import Method, validate_method_class
from nfbench.api.registry import Registry

METHODS: Registry[type[Method]] = Registry(
    "method", base=Method, entry_point_group="nfbench.methods", validate=validate_method_class
)

for _name, _ref in {
    "nf2vec": "nfbench.methods.nf2vec:Nf2Vec",
    "mlp": "nfbench.methods.weight_baselines:FlatMLP",
    "stats": "nfbench.methods.weight_baselines:WeightStats",
    "mlp-perm": "nfbench.methods.weight_baselines:PermutedFlatMLP",
    "nfn-np": "nfbench.methods.nfn:NFNNP",
    "nfn-hnp": "nfbench.methods.nfn:NFNHNP",
    "dwsnet": "nfbench.methods.dwsnet:DWSNet",
    "nft": "nfbench.methods.nft:NFT",
    "ng-gnn": "nfbench.methods.neural_graphs:NGGNN",
    "ng-t": "nfbench.methods.neural_graphs:NGT",
    "scalegmn": "nfbench.methods.scalegmn:ScaleGMN",
    "resnet-sv": "nfbench.methods.resnet_views:ResNetSV",
    "resnet-mv": "nfbench.methods.resnet_views:ResNetMV",
    "pointnet": "nfbench.methods.pointnet:PointNet",
    "pointnet2": "nfbench.methods.pointnet2:PointNet2",
    "dgcnn": "nfbench.methods.dgcnn:DGCNN",
    "conv3d": "nfbench.methods.conv3d:Conv3D",
    "inr": "nfbench.methods.stored_inr:StoredINR",
    "deepsdf": "nfbench.methods.deepsdf:DeepSDF",
    "functa": "nfbench.methods.functa:Functa",
}.items():
    METHODS.register_lazy(_name, _ref)
