import numpy as np
import pytest

from ddriqa.degradations._wavelet import dwt97, idwt97, subband_shapes


@pytest.mark.parametrize("shape", [(512, 768, 3), (481, 321), (33, 17, 3), (2, 2), (1, 5), (7, 1)])
def test_perfect_reconstruction_and_layout(shape):
    x = np.random.default_rng(0).normal(size=shape)
    bands = dwt97(x, 5)
    np.testing.assert_allclose(idwt97(bands), x, atol=1e-10)
    layout = subband_shapes(shape, 5)
    assert bands[0].shape[:2] == layout[0]
    for level, shapes in zip(bands[1:], layout[1:]):
        assert [b.shape[:2] for b in level] == list(shapes)


def test_polynomials_up_to_cubic_leave_no_detail():
    # the 9/7 analysis high-pass has four vanishing moments: a cubic ramp has no detail inside
    t = np.linspace(-1, 1, 64)
    x = np.add.outer(t**3, t**2)
    hl, lh, hh = dwt97(x, 1)[1]
    for b in (hl, lh, hh):
        assert np.abs(b[4:-4, 4:-4]).max() < 1e-9


def test_odd_sizes_give_the_low_band_the_extra_sample():
    assert subband_shapes((5, 7), 1) == [(3, 4), ((3, 3), (2, 4), (2, 3))]
