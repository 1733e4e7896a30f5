"""Build hook: the shipped weights (top-level ``weights/``) go into the wheel as ``ddriqa/_weights``.

The repository keeps trained weights and classifiers in ``weights/`` beside the package; an
editable install reads them there. A wheel has no repository beside it, so ``build_py`` copies
the files that a user of the package needs (``weights/*.safetensors|json|md`` and
``weights/classifiers/``; not the training resume states in ``weights/checkpoints/``) into the
built package, where :func:`ddriqa.models.weights.weights_dir` finds them.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = [("", ("*.safetensors", "*.json", "*.md")), ("classifiers", ("*.npz", "*.json", "*.md", "*.safetensors"))]


def shipped_files(root=ROOT):
    """(source, path relative to weights/) of every file a wheel carries."""
    for sub, patterns in SHIPPED:
        folder = root / "weights" / sub
        for pattern in patterns:
            for path in sorted(folder.glob(pattern)):
                if path.is_file() and path.name != "README.md":
                    yield path, path.relative_to(root / "weights")


class BuildPyWithWeights(build_py):
    def run(self):
        super().run()
        if self.editable_mode:  # an editable install reads weights/ in place
            return
        dest = Path(self.build_lib) / "ddriqa" / "_weights"
        for src, rel in shipped_files():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)


setup(cmdclass={"build_py": BuildPyWithWeights})
