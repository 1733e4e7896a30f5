"""The issue-9 bad-input corpus through the feature extractors' Python API.

`ddriqa classify` turns a bad file into an error row (tests/cli/test_cli_classify.py); the
transformers themselves must raise the package's error naming the file and the reason, whatever
the position of the bad file in the list, and must decode every good file of the corpus.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import make_bad_input_corpus

from ddriqa.errors import DDRIQAError, ImageReadError, InputError
from ddriqa.features.brisque import BRISQUEExtractor
from ddriqa.features.ddr import DDRExtractor

pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    good, bad = make_bad_input_corpus(folder)
    return folder, good, bad


def _ddr():
    import torch

    from ddriqa.models.srresnet import SRResNet

    torch.manual_seed(0)
    net = SRResNet(num_features=4, num_blocks=1)
    # crop 16 > 10: the 1x1 and 10x10 images are "smaller than" the crop; batch 2 puts the bad
    # file in the same batch as a good one, or in the batch read ahead by the reader thread
    return DDRExtractor(weights=net, layer="ResBlock1", crop=16, device="cpu", batch_size=2).fit()


EXTRACTORS = {"ddr": _ddr, "brisque": lambda: BRISQUEExtractor().fit([0])}


@pytest.mark.parametrize("which", sorted(EXTRACTORS))
def test_good_corpus_files_decode(corpus, which):
    folder, good, _ = corpus
    ext = EXTRACTORS[which]()
    X = ext.transform([str(folder / name) for name in good])
    assert X.shape == (len(good), ext.n_features_out_)
    assert np.all(np.isfinite(X))


@pytest.mark.parametrize("which", sorted(EXTRACTORS))
@pytest.mark.parametrize("position", ["first", "middle", "last"])
def test_bad_file_raises_naming_it(corpus, which, position):
    folder, good, bad = corpus
    ext = EXTRACTORS[which]()
    others = [str(folder / name) for name in good[:3]]
    for name, fragment in sorted(bad.items()):
        path = str(folder / name)
        items = {"first": [path] + others, "middle": others[:2] + [path] + others[2:],
                 "last": others + [path]}[position]
        with pytest.raises(DDRIQAError) as info:
            ext.transform(items)
        err = info.value
        assert isinstance(err, (ImageReadError, InputError)), (name, type(err))
        message = str(err)
        assert path in message, (name, message)  # names the file (full path as given)
        fragments = (fragment,) if isinstance(fragment, str) else fragment
        assert any(f in message.lower() for f in fragments), (name, message)
        if isinstance(err, ImageReadError):
            assert err.path == path


@pytest.mark.parametrize("which", sorted(EXTRACTORS))
def test_path_objects_and_missing_file(tmp_path, corpus, which):
    folder, good, _ = corpus
    ext = EXTRACTORS[which]()
    missing = tmp_path / "does_not_exist.png"
    with pytest.raises(ImageReadError, match="no such file") as info:
        ext.transform([folder / good[0], missing])
    assert info.value.path == os.fspath(missing)
    with pytest.raises(ImageReadError, match="is a directory"):
        ext.transform([folder])
