"""Graphs over ROIs and electrodes, and the EEG -> ROI transfer matrix."""

from .graph import Graph
from .knn import correlation_distance, functional_knn_graph, knn_graph_from_distances, spatial_knn_graph
from .transfer import TRANSFER_METHODS, mni_to_head, sphere_leadfield, transfer_matrix

__all__ = [
    "Graph", "TRANSFER_METHODS", "correlation_distance", "functional_knn_graph",
    "knn_graph_from_distances", "mni_to_head", "sphere_leadfield", "spatial_knn_graph",
    "transfer_matrix",
]
