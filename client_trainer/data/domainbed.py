"""Index of a DomainBed data set: `<root>/<DATASET>/<domain>/<class>/<image>`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"})


class DataError(ValueError):
    """The data folder is missing, empty or not laid out as DomainBed expects."""


@dataclass(frozen=True)
class DatasetIndex:
    """Every image of a data set: path, class index and domain index, in a stable order."""

    name: str
    domains: tuple[str, ...]  # sorted domain folder names
    classes: tuple[str, ...]  # sorted union of class folder names over all domains
    paths: tuple[Path, ...]
    labels: tuple[int, ...]  # index into classes
    domain_ids: tuple[int, ...]  # index into domains

    def indices_of(self, domain: str) -> list[int]:
        wanted = self.domains.index(domain)
        return [i for i, d in enumerate(self.domain_ids) if d == wanted]


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def scan_dataset(root: Path, dataset: str) -> DatasetIndex:
    """Walk the folder tree once; sorted names make the order identical on every machine."""
    base = root / dataset
    if not base.is_dir():
        raise DataError(f"no data set folder {base}")
    domain_dirs = _subdirs(base)
    if len(domain_dirs) < 2:
        raise DataError(f"{base} needs at least two domain folders, found {len(domain_dirs)}")
    classes = sorted({c.name for d in domain_dirs for c in _subdirs(d)})
    paths: list[Path] = []
    labels: list[int] = []
    domain_ids: list[int] = []
    for d_index, domain_dir in enumerate(domain_dirs):
        for class_dir in _subdirs(domain_dir):
            for path in sorted(class_dir.iterdir()):
                if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                    paths.append(path)
                    labels.append(classes.index(class_dir.name))
                    domain_ids.append(d_index)
    if not paths:
        raise DataError(f"no images under {base}")
    return DatasetIndex(
        dataset,
        tuple(d.name for d in domain_dirs),
        tuple(classes),
        tuple(paths),
        tuple(labels),
        tuple(domain_ids),
    )
