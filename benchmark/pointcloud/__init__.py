"""Point clouds as a domain: batched sampling and grouping in plain torch (``ops``), the point
networks' training augmentations (``augment``), and ``PointClassifierMethod``, the frame of
the classifiers that read the ``points`` view (PointNet, PointNet++, DGCNN)."""
