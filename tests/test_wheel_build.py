"""The analyzer's wheel reuses `make build`'s compilation: a build of
hltpy-analyze alone, without test dependencies (what maturin and `cargo
install` do), must resolve every shared package's features exactly as
`make build` (`cargo build --tests` of the analyzer's crates) does, or
cargo compiles DataFusion a second time."""

import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def resolved_features(*args):
    """{package: its enabled features} as `cargo tree ARGS` resolves them."""
    done = subprocess.run(
        ["cargo", "tree", "--offline", "--prefix", "none", "-f", "{p}|{f}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    features = {}
    for line in done.stdout.splitlines():
        if "|" not in line:
            continue
        package, _, enabled = line.partition("|")
        package = package.replace(" (proc-macro)", "")
        enabled = enabled.replace(" (*)", "").strip()
        features[package] = frozenset(filter(None, enabled.split(",")))
    return features


def test_the_wheel_build_resolves_features_as_make_build_does():
    if shutil.which("cargo") is None:
        pytest.fail("cargo is not on PATH (the Rust toolchain builds the analyzer)")
    tests = resolved_features(
        "-e", "normal,build,dev", "-p", "hltpy-schema", "-p", "hltpy-graph", "-p", "hltpy-analyze"
    )
    wheel = resolved_features("-e", "normal,build", "-p", "hltpy-analyze")
    assert "datafusion v55.2.0" in wheel
    drifted = {
        package: (tests[package], wheel[package])
        for package in wheel
        if package in tests and tests[package] != wheel[package]
    }
    assert drifted == {}, (
        "these packages' features differ between `make build` and the wheel's build; "
        "ask for the missing features in analyze/Cargo.toml as getrandom's are"
    )
