"""Every short model name points at a classifier that ships, and each loads without pickle."""

from __future__ import annotations

import pytest

from ddriqa.classification.named import DEFAULT_MODEL, MODEL_ALIASES, load_named_classifier
from ddriqa.classification.persistence import shipped_classifiers


def test_every_alias_is_shipped():
    shipped = shipped_classifiers()
    assert DEFAULT_MODEL in MODEL_ALIASES
    for name, target in MODEL_ALIASES.items():
        assert target in shipped, f"--model {name} points at {target}, which is not in {shipped}"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODEL_ALIASES))
def test_every_shipped_model_loads_with_its_classes(name):
    model = load_named_classifier(name)
    classes = set(map(str, model.classes_))
    assert {"jp2k", "jpeg", "wn", "gblur", "fastfading"} <= classes
    if name in ("ddr", "fusion", "fast"):
        assert "pristine" in classes
