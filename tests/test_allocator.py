"""The glibc malloc tuning irgrad applies at import, and how a user turns it off."""

import os
import subprocess
import sys

from irgrad import _allocator


def test_tunes_on_linux_by_default():
    assert _allocator.should_tune({}, "linux")


def test_opt_out_and_user_settings_are_respected():
    assert not _allocator.should_tune({"IRGRAD_MALLOC_TUNING": "0"}, "linux")
    assert not _allocator.should_tune({"IRGRAD_MALLOC_TUNING": "off"}, "linux")
    assert not _allocator.should_tune({"MALLOC_TRIM_THRESHOLD_": "0"}, "linux")
    assert not _allocator.should_tune({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}, "linux")
    assert not _allocator.should_tune({}, "darwin")


def _tuned_in_fresh_process(**env) -> str:
    code = "import irgrad, irgrad._allocator as a; print(a.TUNED)"
    full = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], env=full, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_import_applies_it_once_and_the_opt_out_works():
    if sys.platform.startswith("linux"):
        assert _tuned_in_fresh_process() in ("True", "False")  # False only on a non-glibc libc
    assert _tuned_in_fresh_process(IRGRAD_MALLOC_TUNING="0") == "False"
