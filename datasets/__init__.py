"""Dataset modules: one per source, each with a card. Registered lazily by name."""

from nfbench.api.registry import Registry

DATASETS: Registry = Registry("dataset", entry_point_group="nfbench.datasets")

for _name, _ref in {
    "procshapes": "nfbench.datasets.procshapes:ProcShapes",
    "digits": "nfbench.datasets.digits:Digits",
    "mnist": "nfbench.datasets.idx_images:MNIST",
    "fashion-mnist": "nfbench.datasets.idx_images:FashionMNIST",
    "modelnet40": "nfbench.datasets.modelnet:ModelNet40",
    "modelnet10": "nfbench.datasets.modelnet:ModelNet10",
    "manifold40": "nfbench.datasets.mesh_folders:Manifold40",
    "shrec16": "nfbench.datasets.mesh_folders:Shrec16",
    "shapenet10": "nfbench.datasets.ply_folders:ShapeNet10",
    "scannet10": "nfbench.datasets.ply_folders:ScanNet10",
}.items():
    DATASETS.register_lazy(_name, _ref)
