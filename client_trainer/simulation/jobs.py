"""The axes of a table as the commands spell them: `--methods`, `--test-domains`, `--seeds`,
`--targets`.

A method of the table is a registered method, or an alias for a method with a variant setting
(`linear-probe` is ERM's linear probe on the frozen pretrained student). The target policies
expand only the methods that buy targets for their training images (KD, ADiP and its align
stage): one row per policy; every other method runs once.
"""

from __future__ import annotations

from typing import Any

from client_trainer.config import RunConfig
from client_trainer.data.domainbed import DataError, scan_dataset
from client_trainer.methods import METHODS, get_method
from client_trainer.report.records import METHOD_ORDER
from client_trainer.target_policy import TargetPolicy

# Table spellings of a method with a variant: the run-config fields each stands for.
METHOD_ALIASES: dict[str, dict[str, Any]] = {
    "linear-probe": {"train.method": "erm", "train.erm_variant": "linear-probe"},
}


def names(value: str, every: tuple[str, ...]) -> tuple[str, ...]:
    """`all` -> `every`; else the comma list, blanks dropped."""
    if value.strip() == "all":
        return every
    return tuple(v.strip() for v in value.split(",") if v.strip())


def all_methods() -> tuple[str, ...]:
    """Every registered method and alias: those of METHOD_ORDER first, in its order."""
    return (*METHOD_ORDER, *(m for m in METHODS if m not in METHOD_ORDER))


def method_overrides(name: str) -> dict[str, Any]:
    """The run-config fields of a table's method: its alias's, else `train.method`."""
    return dict(METHOD_ALIASES.get(name, {"train.method": name}))


def uses_targets(name: str) -> bool:
    """Whether a table's method buys teacher targets for its training images."""
    method = method_overrides(name)["train.method"]
    return method in METHODS and get_method(method).needs.train_images


def target_policies(value: str | None) -> tuple[str, ...]:
    """`--targets`: a comma list of policies (clean, views:K, per-step), each checked; None
    or blank = () (the base config's one policy)."""
    return tuple(str(TargetPolicy.parse(p)) for p in names(value or "", ()))


def check_domains(wanted: tuple[str, ...], known: tuple[str, ...]) -> tuple[str, ...]:
    """`wanted`, each one of `known` (a DataError names the first that is not); () = all."""
    if unknown := [d for d in wanted if d not in known]:
        raise DataError(f"test domain {unknown[0]!r} is not one of {list(known)}")
    return wanted or known


def table_configs(
    base: RunConfig, methods: str | None, test_domains: str | None, seeds: int | None
) -> list[RunConfig]:
    """The runs of a table over the axes given (an axis not given keeps `base`'s one value);
    `base` alone when none is."""
    if methods is None and test_domains is None and seeds is None:
        return [base]
    method_list = names(methods, all_methods()) if methods else (base.train.method,)
    domains: tuple[str | None, ...] = (base.data.test_domain,)
    if test_domains:
        known = scan_dataset(base.data.root, base.data.dataset).domains
        domains = check_domains(names(test_domains, ()), known)
    seed_list = range(seeds) if seeds else (base.train.seed,)
    return [
        base.with_overrides(method_overrides(m) | {"data.test_domain": d, "train.seed": s})
        for s in seed_list
        for d in domains
        for m in method_list
    ]
