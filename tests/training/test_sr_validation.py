"""Tests of ddriqa.training.validation, schedules and tiled inference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import textured_image

from ddriqa.errors import InputError
from ddriqa.models.srresnet import SRResNet
from ddriqa.sr.upscale import upscale_image
from ddriqa.training.schedules import SRGAN_SCHEDULE, SRRESNET_SCHEDULE, StepSchedule
from ddriqa.training.validation import ValidationLog, psnr_y, rgb_to_y


def test_rgb_to_y_matlab_convention():
    img = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 0, 255]]], dtype=np.uint8)
    np.testing.assert_allclose(rgb_to_y(img)[0], [16.0, 235.0, 16 + 65.481, 16 + 24.966], atol=1e-9)
    np.testing.assert_allclose(rgb_to_y(img.astype(np.float32) / 255), rgb_to_y(img), atol=1e-4)


def test_psnr_y_equals_hand_computation():
    a = textured_image(20, 24, seed=1)
    b = textured_image(20, 24, seed=2)
    ya = 16 + (65.481 * a[..., 0] + 128.553 * a[..., 1] + 24.966 * a[..., 2]) / 255.0
    yb = 16 + (65.481 * b[..., 0] + 128.553 * b[..., 1] + 24.966 * b[..., 2]) / 255.0
    mse = np.mean((ya[4:-4, 4:-4] - yb[4:-4, 4:-4]) ** 2)
    assert psnr_y(a, b, border=4) == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-9)
    assert psnr_y(a, a) == math.inf
    with pytest.raises(InputError, match="shapes differ"):
        psnr_y(a, b[:-1])


def test_schedules_scale_with_run_length():
    assert SRRESNET_SCHEDULE.scaled(6000).milestones == (1000, 3000, 5000, 6000)
    s = SRGAN_SCHEDULE.scaled(4000)
    assert s.milestones == (500, 1000, 2000, 3000)
    assert [s.lr_at(k) for k in (0, 499, 500, 1000, 3999)] == [1e-4, 1e-4, 5e-5, 2.5e-5, 6.25e-6]
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    assert s.apply(opt, 2500) == opt.param_groups[0]["lr"] == 1.25e-5
    with pytest.raises(InputError):
        StepSchedule(1e-3, (5, 2))


def test_tiled_upscale_equals_whole_image():
    torch.manual_seed(0)
    net = SRResNet(num_features=4, num_blocks=1).eval()
    img = textured_image(22, 27, seed=4)
    whole = upscale_image(net, img)
    tiled = upscale_image(net, img, tile=10, overlap=6)  # receptive field radius 5 LR pixels
    assert tiled.shape == (88, 108, 3)
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1


def test_validation_log_appends_and_truncates(tmp_path):
    log = ValidationLog(tmp_path / "v.csv", run="r")
    for step in (10, 20, 30):
        log.write(step, "Set5", 30.0 + step / 10)
    log.truncate_after(20)
    lines = (tmp_path / "v.csv").read_text().splitlines()
    assert lines[0] == "run,step,set,psnr,time" and len(lines) == 3 and lines[-1].startswith("r,20,Set5,32.0000")
