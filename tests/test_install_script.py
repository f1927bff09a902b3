"""scripts/install-system-deps.sh on a machine where another apt holds the lock, with a stand-in apt-get.

The stand-in is a small shell script first on PATH: it records its arguments and fails the way apt
does while another process holds the dpkg lock, a chosen number of times, before it succeeds. The
CJK-font check sees no font (``fc-list`` and ``dpkg-query`` stand-ins that find nothing), so the
script has something to install on any machine.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "install-system-deps.sh"

FAKE_APT = """#!/bin/sh
echo "$*" >> "$FAKE_APT_LOG"
count=$(wc -l < "$FAKE_APT_LOG")
if [ "$count" -le "$FAKE_APT_LOCKED_CALLS" ]; then
  echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)" >&2
  exit 100
fi
if [ -n "${FAKE_APT_FAIL:-}" ]; then
  echo "E: Unable to locate package $FAKE_APT_FAIL" >&2
  exit 100
fi
exit 0
"""


def fake_bin(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {"apt-get": FAKE_APT, "fc-list": "#!/bin/sh\nexit 0\n", "dpkg-query": "#!/bin/sh\nexit 1\n"}
    scripts["sudo"] = '#!/bin/sh\nexec "$@"\n'  # in case the tests do not run as root
    for name, text in scripts.items():
        path = bin_dir / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o755)
    return bin_dir


def run_script(tmp_path: Path, *, locked_calls: int, attempts: int = 5, fail: str = "") -> tuple[int, str, list[str]]:
    log = tmp_path / "apt.log"
    env = {
        **os.environ,
        "PATH": f"{fake_bin(tmp_path)}{os.pathsep}{os.environ['PATH']}",
        "FAKE_APT_LOG": str(log),
        "FAKE_APT_LOCKED_CALLS": str(locked_calls),
        "FAKE_APT_FAIL": fail,
        "MYAGENT_APT_LOCK_ATTEMPTS": str(attempts),
        "MYAGENT_APT_LOCK_DELAY": "0",
    }
    result = subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False)
    calls = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return result.returncode, result.stdout + result.stderr, calls


def test_a_held_lock_is_waited_for_and_then_the_fonts_are_installed(tmp_path: Path) -> None:
    code, output, calls = run_script(tmp_path, locked_calls=2)
    assert code == 0, output
    assert output.count("another apt or dpkg holds the package lock") == 2
    assert [c.split()[2] for c in calls] == ["update", "update", "update", "install"]  # after -o DPkg::…
    assert "fonts-noto-cjk" in calls[-1].split()


def test_a_lock_that_is_never_released_fails_after_the_bounded_attempts(tmp_path: Path) -> None:
    code, output, calls = run_script(tmp_path, locked_calls=100, attempts=3)
    assert code != 0
    assert len(calls) == 3
    assert "still held after 3 attempts" in output and "held by process 4242" in output


def test_any_other_apt_failure_is_reported_at_once(tmp_path: Path) -> None:
    code, output, calls = run_script(tmp_path, locked_calls=0, fail="fonts-noto-cjk")
    assert code != 0
    assert len(calls) == 1 and "Unable to locate package" in output
    assert "waiting" not in output


def test_venv_mode_installs_python3_venv_when_python_cannot_make_a_venv(tmp_path: Path) -> None:
    # stock Debian: python3 is there, but `python3 -m venv` lacks ensurepip until python3-venv is installed
    bin_dir = fake_bin(tmp_path)
    (bin_dir / "python3").write_text("#!/bin/sh\nexit 1\n", encoding="utf-8")
    (bin_dir / "python3").chmod(0o755)
    log = tmp_path / "apt.log"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_APT_LOG": str(log),
        "FAKE_APT_LOCKED_CALLS": "0",
        "MYAGENT_APT_LOCK_DELAY": "0",
    }
    result = subprocess.run(["sh", str(SCRIPT), "venv"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    install = log.read_text(encoding="utf-8").splitlines()[-1].split()
    assert install[2] == "install" and install[-1] == "python3-venv"
    assert "fonts-noto-cjk" not in install  # `make run` needs only the venv
