"""Mesh classification sets released as ``<root>/<class>/{train,test}/*.obj``: SHREC and Manifold40."""

from __future__ import annotations

from nfbench.datasets._readers import ClassFolderDataset
from nfbench.datasets.base import DatasetCard


def _obj_layout(folder: str) -> str:
    return f"<root>/<class>/{{train,test}}/*.obj, where <root> is {folder}/ or the folder holding it"


class Shrec16(ClassFolderDataset):
    """SHREC non-rigid shapes as MeshCNN ships them: 30 classes, split 16 train / 4 test per class."""

    suffix = ".obj"
    card = DatasetCard(
        name="shrec16",
        description="SHREC'11 non-rigid watertight meshes in MeshCNN's 'shrec_16' release: 30 classes, "
        "16 train / 4 test meshes per class, each simplified to 500 faces.",
        source="https://github.com/ranahanocka/MeshCNN (scripts/shrec/get_data.sh, shrec_16.tar.gz)",
        citation="Z. Lian et al. SHREC'11 Track: Shape Retrieval on Non-rigid 3D Watertight Meshes. 3DOR 2011. "
        "R. Hanocka, A. Hertz, N. Fish, R. Giryes, S. Fleishman, D. Cohen-Or. MeshCNN: A Network with an Edge. "
        "SIGGRAPH 2019.",
        classes=30,
        field_kinds=("sdf", "udf", "occ"),
        default_field="sdf",
        default_preset="cpu",
        needs_root=True,
        layout=_obj_layout("shrec_16"),
    )


class Manifold40(ClassFolderDataset):
    """ModelNet40 remeshed into watertight manifolds, the mesh-network benchmark (nf2vec reports sdf on it)."""

    suffix = ".obj"
    card = DatasetCard(
        name="manifold40",
        description="Manifold40: the ModelNet40 shapes reconstructed as watertight 2-manifold meshes "
        "(official ModelNet40 train/test split), as released with SubdivNet and used by MeshWalker.",
        source="https://github.com/lzhengning/SubdivNet (Manifold40 download link in its README)",
        citation="S.-M. Hu, Z.-N. Liu, M.-H. Guo, J.-X. Cai, J. Huang, T.-J. Mu, R. R. Martin. "
        "Subdivision-Based Mesh Convolution Networks. ACM TOG 2022. "
        "A. Lahav, A. Tal. MeshWalker: Deep Mesh Understanding by Random Walks. SIGGRAPH Asia 2020.",
        classes=40,
        field_kinds=("sdf", "udf", "occ"),
        default_field="sdf",
        default_preset="cpu",
        needs_root=True,
        layout=_obj_layout("Manifold40"),
    )
