"""The axes of a table as the commands spell them: `--methods`, `--test-domains`, `--seeds`."""

from __future__ import annotations

from client_trainer.config import RunConfig
from client_trainer.data.domainbed import DataError, scan_dataset
from client_trainer.methods import METHODS
from client_trainer.report.records import METHOD_ORDER


def names(value: str, every: tuple[str, ...]) -> tuple[str, ...]:
    """`all` -> `every`; else the comma list, blanks dropped."""
    if value.strip() == "all":
        return every
    return tuple(v.strip() for v in value.split(",") if v.strip())


def all_methods() -> tuple[str, ...]:
    """Every registered method: the table's five first, in their order."""
    return (*METHOD_ORDER, *(m for m in METHODS if m not in METHOD_ORDER))


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
        base.with_overrides({"train.method": m, "data.test_domain": d, "train.seed": s})
        for s in seed_list
        for d in domains
        for m in method_list
    ]
