"""Labeling in the loop: a durable labeling project (:class:`LabelingProject`), its model file
(:func:`load_model`) and the browser app on top of them (``al-bench-label``)."""

from .model_file import ExportedModel, load_model
from .project import LabelingProject, NamedSelection

__all__ = ["LabelingProject", "NamedSelection", "ExportedModel", "load_model"]
