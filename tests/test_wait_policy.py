"""Issue 32 item 14: the library gets the CLI's OpenMP wait policy without the user setting it."""

import os
import subprocess
import sys

from conftest import REPO


def _policy_after_import(env_policy):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    if env_policy is not None:
        env["OMP_WAIT_POLICY"] = env_policy
    code = ("import os, sys; import ddriqa; assert 'torch' not in sys.modules; "
            "print(os.environ.get('OMP_WAIT_POLICY'))")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


def test_import_ddriqa_sets_a_passive_wait_policy_before_torch_loads():
    assert _policy_after_import(None) == "PASSIVE"


def test_a_wait_policy_set_by_the_user_is_kept():
    assert _policy_after_import("ACTIVE") == "ACTIVE"
