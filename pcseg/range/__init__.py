"""The 2D branch: LiDAR scans and rooms as range images, and the network's answer back on every point.

projection.py   spherical projection (RangeNet++), channel images, label images
backproject.py  back-projection to every point with RangeNet++'s kNN voting (_knn_kernel.py: its CPU kernel)
viewpoints.py   virtual scanner positions inside indoor rooms (S3DIS)
spec.py         the range settings of a run (image size, FOV, channels, normalisation, viewpoints)
dataset.py      RangeDataset and build_range_datasets (training items, validation clouds)
augment.py      whole-scan training augmentations (range.scan_augment: remission, density, mounting, mixing)
inference.py    predict_scan: (N, K) scores for every point of a cloud
origin.py       where a world-frame scan's sensor stands, found from the data
ground.py       levelling a scan on its ground plane before it is projected (range.level_ground)
reference.py    a NumPy rendering of the reference code (benchmark baseline and test oracle)

Nothing is imported here, so ``import pcseg.range`` stays light (torch is imported by the modules).
"""
