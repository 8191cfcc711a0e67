"""Training of the graph models: block-wise splits, the epoch loop, saliency.

``splits`` assigns whole blocks (events) to train / validation / test so that
overlapping windows of one block never leak across splits; ``loop`` trains a
classifier epoch by epoch as a generator (progress, cancel, early stopping,
seeds); ``saliency`` turns Class Activation Maps into salient nodes and
connections per class.
"""
