"""Feature taps of stem-plus-blocks SR networks (SRResNet, RRDBNet): one implementation of both.

A network built as ``stem -> block 1 -> ... -> block N -> upsampling`` exposes the stem output
as ``"Conv1"`` and each block output as ``"<block_name><k>"``; :class:`BlockTaps` turns those
names into depths and runs the network only as deep as the deepest requested tap.
"""

from __future__ import annotations

import re

from ddriqa.errors import InputError

__all__ = ["BlockTaps"]


class BlockTaps:
    """Mixin for ``nn.Module`` networks with ``self.body`` (the blocks) and ``self._stem(x)``.

    Subclasses set :attr:`block_name` (``"ResBlock"``, ``"RRDB"``) and
    :attr:`default_num_blocks`, and define ``_stem(x)`` (the ``Conv1`` output) and
    ``_check(x)`` (input validation). A network whose blocks take more than the feature map
    (e.g. an embedding of the input) overrides :meth:`_tap_context` and :meth:`_run_block`.
    """

    block_name = "Block"
    default_num_blocks = 1

    @classmethod
    def layer_names(cls, num_blocks=None):
        """Names accepted by ``forward_features``: ``["Conv1", "<block>1", ..., "<block>N"]``."""
        n = cls.default_num_blocks if num_blocks is None else int(num_blocks)
        return ["Conv1"] + [f"{cls.block_name}{k}" for k in range(1, n + 1)]

    def _depth(self, layer):
        """Number of blocks to run for ``layer`` (0 for Conv1)."""
        if layer == "Conv1":
            return 0
        m = re.fullmatch(rf"{self.block_name}(\d+)", str(layer))
        if m is None or not 1 <= int(m.group(1)) <= self.num_blocks:
            raise InputError(f"unknown layer {layer!r}; expected one of {self.layer_names(self.num_blocks)}")
        return int(m.group(1))

    def _tap_context(self, x, depth):
        """What the blocks need besides the feature map, computed once per call (None here)."""
        return None

    def _run_block(self, index, fea, context):
        """The output of block ``index`` (0-based) for the feature map ``fea``."""
        return self.body[index](fea)

    def _forward_taps(self, x, layer):
        many = not isinstance(layer, str)
        layers = list(layer) if many else [layer]
        if not layers:
            raise InputError("layer is an empty sequence; name at least one layer")
        depths = {name: self._depth(name) for name in layers}
        out = {}
        context = self._tap_context(x, max(depths.values()))
        fea = self._stem(x)
        for name, d in depths.items():
            if d == 0:
                out[name] = fea
        for k in range(1, max(depths.values()) + 1):
            fea = self._run_block(k - 1, fea, context)
            for name, d in depths.items():
                if d == k:
                    out[name] = fea
        return out if many else out[layers[0]]
