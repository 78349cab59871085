"""Point-cloud sets in inr2vec's release: PLY files in ``<root>/<class>/{train,test}/``.

Both come from the PointDA-10 domain-adaptation benchmark (10 shared classes). A PLY mesh
is accepted too; its vertices are used as the cloud.
"""

from __future__ import annotations

from nfbench.datasets._readers import ClassFolderDataset
from nfbench.datasets.base import DatasetCard

_SOURCE = "https://github.com/CVLAB-Unibo/inr2vec (point-cloud datasets); built from PointDA-10, https://github.com/canqin001/PointDAN"
_POINTDA = "C. Qin, H. You, L. Wang, C.-C. J. Kuo, Y. Fu. PointDAN: A Multi-Scale 3D Domain Adaption Network for Point Cloud Representation. NeurIPS 2019."
_INR2VEC = "L. De Luigi, A. Cardace, R. Spezialetti, P. Zama Ramirez, S. Salti, L. Di Stefano. Deep Learning on Implicit Neural Representations of Shapes. ICLR 2023."


def _ply_layout(folder: str) -> str:
    return f"<root>/<class>/{{train,test}}/*.ply (one point cloud per file), where <root> is {folder}/ or the folder holding it"


class ShapeNet10(ClassFolderDataset):
    """Synthetic CAD clouds: the ShapeNet side of PointDA-10."""

    suffix = ".ply"
    card = DatasetCard(
        name="shapenet10",
        description="ShapeNet10: ShapeNet CAD models of the 10 PointDA-10 classes as point clouds.",
        source=_SOURCE,
        citation=f"A. X. Chang et al. ShapeNet: An Information-Rich 3D Model Repository. arXiv:1512.03012, 2015. {_POINTDA} {_INR2VEC}",
        classes=10,
        field_kinds=("udf",),
        default_field="udf",
        default_preset="cpu",
        needs_root=True,
        layout=_ply_layout("shapenet10"),
    )


class ScanNet10(ClassFolderDataset):
    """Real scanned, partial and noisy clouds: the ScanNet side of PointDA-10."""

    suffix = ".ply"
    card = DatasetCard(
        name="scannet10",
        description="ScanNet10: objects cropped from ScanNet indoor scans (partial, noisy) in the 10 PointDA-10 classes.",
        source=_SOURCE,
        citation=f"A. Dai, A. X. Chang, M. Savva, M. Halber, T. Funkhouser, M. Niessner. ScanNet: Richly-Annotated 3D Reconstructions of Indoor Scenes. CVPR 2017. {_POINTDA} {_INR2VEC}",
        classes=10,
        field_kinds=("udf",),
        default_field="udf",
        default_preset="cpu",
        needs_root=True,
        layout=_ply_layout("scannet10"),
    )
