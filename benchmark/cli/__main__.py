"""``python -m nfbench.cli``: the same CLI as ``nfbench``, for launchers that run modules
(``torchrun --nproc-per-node 2 -m nfbench.cli run ...``)."""

from nfbench.cli.app import main

main()
