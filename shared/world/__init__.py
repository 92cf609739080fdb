"""The offline world: a synthetic multi-domain image benchmark with captions (numpy + PIL only).

- `render(class_name, style, size, rng) -> Sample`: one labelled image.
- `CorpusConfig`, `vendor_corpus()`, `student_corpus()`: the vendor's caption corpus and the
  student's photo-dominated "ImageNet"; `build_corpus(config, root) -> Path` renders and caches,
  `load_corpus(path) -> Corpus` reads arrays back.
- `TaskConfig`, `build_task(config, root) -> Path`: the client's PACS-like task as DomainBed
  folders `<root>/<dataset>/<domain>/<class>/<n>.png`.
- `CaptionConfig`, `caption(...)`, `prompt(class)`: captions with a controllable share of style
  words, and the zero-shot prompt "a photo of a {class}".
- `recipe_*()`: the corpora at the pipeline's 32 px.
- `sample_grid(path)`: a PNG with one row of samples per style.
- `cached(root, kind, config, build)`: artefacts in `<root>/<kind>-<hash12>/` with a manifest.
"""

from shared.world.artifacts import artifact_dir, cached, config_hash, default_root, read_manifest
from shared.world.captions import CaptionConfig, caption, prompt
from shared.world.config import (
    ALL_CLASSES,
    ALL_STYLES,
    TASK_CLASSES,
    TASK_DOMAINS,
    CorpusConfig,
    TaskConfig,
    student_corpus,
    vendor_corpus,
)
from shared.world.corpus import Corpus, build_corpus, load_corpus, render_corpus
from shared.world.domainbed import build_task
from shared.world.grid import sample_grid
from shared.world.recipe import (
    RECIPE_IMAGE_SIZE,
    recipe_student_corpus,
    recipe_task,
    recipe_vendor_corpus,
)
from shared.world.render import Sample, render

__all__ = [
    "ALL_CLASSES",
    "ALL_STYLES",
    "RECIPE_IMAGE_SIZE",
    "TASK_CLASSES",
    "TASK_DOMAINS",
    "CaptionConfig",
    "Corpus",
    "CorpusConfig",
    "Sample",
    "TaskConfig",
    "artifact_dir",
    "build_corpus",
    "build_task",
    "cached",
    "caption",
    "config_hash",
    "default_root",
    "load_corpus",
    "prompt",
    "read_manifest",
    "recipe_student_corpus",
    "recipe_task",
    "recipe_vendor_corpus",
    "render",
    "render_corpus",
    "sample_grid",
    "student_corpus",
    "vendor_corpus",
]
