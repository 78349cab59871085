"""Weight space as a domain: the symmetries of an MLP's parameters and layers that respect them.

``features`` holds per-parameter feature maps (channels on every weight and bias);
``symmetry`` acts on INR parameters with the hidden-neuron permutation and sign groups;
``augment`` turns those actions (plus noise and dropout) into training augmentations;
``nfn`` holds the permutation-equivariant layers of Zhou et al. (NeurIPS 2023).
"""
