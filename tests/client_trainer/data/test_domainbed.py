"""DomainBed folders: scan, leave-one-domain-out, seeded 20 % holdouts, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from client_trainer.config import DataConfig
from client_trainer.data.domainbed import DataError, scan_dataset
from client_trainer.data.splits import load_task
from tests.client_trainer.tree import CLASSES, DATASET, DOMAINS, make_tree


def test_scan_finds_sorted_domains_classes_and_every_image(tiny_root: Path) -> None:
    index = scan_dataset(tiny_root, DATASET)
    assert index.domains == DOMAINS and index.classes == CLASSES
    assert len(index.paths) == len(DOMAINS) * len(CLASSES) * 6


def test_split_holds_out_the_target_and_20_percent_of_each_source(tiny_root: Path) -> None:
    config = DataConfig(root=tiny_root, dataset=DATASET, test_domain="beta", image_size=16)
    task = load_task(config, seed=0)
    assert task.test_domain == "beta" and task.source_domains == ("alpha", "gamma")
    beta = DOMAINS.index("beta")
    assert set(task.target.domain_ids.tolist()) == {beta}
    assert beta not in set(task.train.domain_ids.tolist()) | set(task.holdout.domain_ids.tolist())
    for d in (0, 2):
        held = int((task.holdout.domain_ids == d).sum())
        assert held == round(len(CLASSES) * 6 * 0.2)
    assert not set(task.train.paths) & set(task.holdout.paths)
    assert task.train.pixels.shape[1:] == (3, 16, 16) and task.train.pixels.dtype == torch.uint8


def test_holdout_is_seeded(tiny_root: Path) -> None:
    config = DataConfig(root=tiny_root, dataset=DATASET, test_domain="gamma", image_size=16)
    same = load_task(config, seed=3).holdout.paths == load_task(config, seed=3).holdout.paths
    other = load_task(config, seed=3).holdout.paths != load_task(config, seed=4).holdout.paths
    assert same and other


def test_bad_layouts_fail_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no data set folder"):
        scan_dataset(tmp_path, "MISSING")
    make_tree(tmp_path, per_class=1, domains=("only",))
    with pytest.raises(DataError, match="at least two domain"):
        scan_dataset(tmp_path, DATASET)
    config = DataConfig(root=tmp_path, dataset=DATASET, test_domain="nowhere")
    make_tree(tmp_path, per_class=1, domains=("only", "other"))
    with pytest.raises(DataError, match="not one of"):
        load_task(config, seed=0)


def test_large_sets_decode_into_a_disk_backed_buffer_with_the_same_pixels(
    tiny_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from client_trainer.data import images

    config = DataConfig(root=tiny_root, dataset=DATASET, test_domain="gamma", image_size=16)
    in_ram = load_task(config, seed=0).train.pixels
    monkeypatch.setattr(images, "IN_MEMORY_LIMIT", 0)
    on_disk = load_task(config, seed=0).train.pixels
    assert torch.equal(in_ram, on_disk)


def test_decoding_reports_progress_for_every_image(tiny_root: Path) -> None:
    totals: list[int] = []
    ticks: list[int] = []

    def progress(total: int):  # type: ignore[no-untyped-def]
        totals.append(total)
        return ticks.append

    config = DataConfig(root=tiny_root, dataset=DATASET, test_domain="gamma", image_size=16)
    task = load_task(config, seed=0, progress=progress)
    assert totals == [len(task.train) + len(task.holdout) + len(task.target)]
    assert sum(ticks) == totals[0]
