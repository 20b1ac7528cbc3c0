"""The Parquet readers a trace must open (schema/FORMAT.md, "Readers"),
pinned, each installed into a venv of its own under the cache directory
and reused when present: `python tests/interop/readers.py install`
(`make readers`) installs what is missing, `... list` prints the matrix.

Each reader is driven by `dump_trace.py` run with its venv's Python, so a
reader never shares a process (or a numpy) with another."""

import dataclasses
import os
import pathlib
import shutil
import subprocess
import sys

CACHE = pathlib.Path(
    os.environ.get("HLTPY_READERS", pathlib.Path.home() / ".cache" / "hltpy" / "readers")
)


@dataclasses.dataclass(frozen=True)
class Reader:
    library: str
    version: str
    # What pip installs into its venv besides the library itself.
    extra: tuple = ()
    # Runs the portable SQL (FORMAT.md's views and constraints.sql) too.
    runs_sql: bool = False
    # Opens traces written with the opt-in BYTE_STREAM_SPLIT inputs.
    reads_byte_stream_split: bool = True
    # What it cannot read as written, column -> why (FORMAT.md, "Readers"):
    # the matrix checks every other column, and that these stay so.
    limits: tuple = ()

    @property
    def name(self):
        return f"{self.library}-{self.version}"

    @property
    def venv(self):
        return CACHE / self.name

    @property
    def python(self):
        return self.venv / "bin" / "python"

    @property
    def requirements(self):
        return [f"{self.library}=={self.version}", *self.extra]

    def installed(self):
        """Installed with these requirements (a changed pin reinstalls)."""
        marker = self.venv / ".installed"
        return marker.exists() and marker.read_text().split() == self.requirements

    def install(self):
        if self.installed():
            return
        shutil.rmtree(self.venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(self.venv)], check=True)
        subprocess.run(
            [
                str(self.python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *self.requirements,
            ],
            check=True,
        )
        (self.venv / ".installed").write_text(" ".join(self.requirements))


# The oldest release of each line users still have, and the newest; pyarrow
# 15 was built against numpy 1.
FASTPARQUET_LIMITS = (
    ("inputs", "reads no list of structs: every row's inputs come back as None"),
    ("value_float", "reads a null float as NaN (a pandas float64 column)"),
)
READERS = [
    Reader("pyarrow", "15.0.2", ("numpy<2",), reads_byte_stream_split=False),
    Reader("pyarrow", "16.1.0"),
    Reader("pyarrow", "17.0.0"),
    Reader("duckdb", "1.1.3", runs_sql=True, reads_byte_stream_split=False),
    Reader("duckdb", "1.2.2", reads_byte_stream_split=False),
    Reader("duckdb", "1.3.2", reads_byte_stream_split=False),
    Reader("duckdb", "1.4.1", reads_byte_stream_split=False),
    Reader("duckdb", "1.4.4", reads_byte_stream_split=False),
    Reader("duckdb", "1.5.0", reads_byte_stream_split=False),
    Reader("duckdb", "2.0.1"),
    Reader("polars", "2.1.0"),
    Reader("fastparquet", "2026.9.0", limits=FASTPARQUET_LIMITS),
    # Spark runs in a JVM (the machine's Java 17), local[2].
    Reader("pyspark", "3.5.3", runs_sql=True, reads_byte_stream_split=False),
]

INSTALL_HINT = (
    "run `make readers` (python tests/interop/readers.py install) to install the pinned readers"
)


def main(argv):
    command = argv[1] if len(argv) > 1 else "list"
    if command == "install":
        missing = [reader for reader in READERS if not reader.installed()]
        for index, reader in enumerate(missing, 1):
            print(
                f"installing reader {index}/{len(missing)}: {reader.name} into {reader.venv}",
                flush=True,
            )
            reader.install()
        if shutil.which("java") is None:
            sys.exit("pyspark needs Java (17): apt-get install openjdk-17-jre-headless")
    elif command == "list":
        for reader in READERS:
            print(
                f"{reader.name:22} {'installed' if reader.installed() else 'missing':10} {reader.venv}"
            )
    else:
        sys.exit(f"unknown command {command!r}: use `install` or `list`")


if __name__ == "__main__":
    main(sys.argv)
