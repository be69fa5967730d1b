"""A throw-away PostgreSQL server on loopback, for tests, benchmarks and trying out workers.

It runs PostgreSQL's own server programs (``initdb``, ``pg_ctl``) in a temporary folder on a
free port. PostgreSQL refuses to run as root, so when we are root the server runs as the
``postgres`` system user (``runuser``). Nothing here is needed to *use* a PostgreSQL database:
point ``--storage postgresql://user:password@host/db`` at any server.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from hyperlab.errors import StorageError

INSTALL_HINT = (
    "PostgreSQL's server programs (initdb, pg_ctl) were not found; on Debian/Ubuntu run "
    "`apt-get install -y postgresql` (or put their folder on PATH or in HYPERLAB_PG_BIN)"
)


def find_bindir() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``.

    Looks at ``$HYPERLAB_PG_BIN``, ``pg_config --bindir``, ``/usr/lib/postgresql/*/bin`` (newest
    first) and ``PATH``.

    Raises:
        StorageError: No PostgreSQL server programs are installed.
    """
    candidates: list[Path] = []
    if os.environ.get("HYPERLAB_PG_BIN"):
        candidates.append(Path(os.environ["HYPERLAB_PG_BIN"]))
    if shutil.which("pg_config"):
        try:
            out = subprocess.run(
                ["pg_config", "--bindir"], capture_output=True, text=True, check=True
            )
            candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.CalledProcessError):
            pass
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    versions.sort(key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    candidates.extend(Path(p) for p in reversed(versions))
    if shutil.which("initdb"):
        candidates.append(Path(shutil.which("initdb") or "").parent)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise StorageError(INSTALL_HINT)


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TemporaryPostgres:
    """Start a PostgreSQL server in a temporary folder; stop and delete it on exit.

    Args:
        user: Superuser name.
        password: Its password (password authentication is on, so wrong passwords fail).
        fast: Turn off ``fsync`` and synchronous commits (fine for tests, unsafe for data).
        max_connections: The server's connection limit.

    Example:
        >>> with TemporaryPostgres() as pg:  # doctest: +SKIP
        ...     url = pg.create_database("study")
    """

    def __init__(
        self,
        user: str = "hyperlab",
        password: str = "hyperlab-test",
        fast: bool = True,
        max_connections: int = 100,
    ) -> None:
        self.user = user
        self.password = password
        self.fast = fast
        self.max_connections = max_connections
        self.port = 0
        self.folder: Path | None = None
        self._run_as: list[str] = []

    def url(self, database: str = "postgres", password: str | None = None) -> str:
        """A SQLAlchemy URL of ``database`` on this server."""
        pw = self.password if password is None else password
        return f"postgresql+psycopg2://{self.user}:{pw}@127.0.0.1:{self.port}/{database}"

    def start(self) -> TemporaryPostgres:
        """Initialise the data folder and start the server (a few seconds)."""
        bindir = find_bindir()
        self.folder = Path(tempfile.mkdtemp(prefix="hyperlab-pg-"))
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise StorageError("running as root, and `runuser` is missing to drop to postgres")
            self._run_as = [runuser, "-u", "postgres", "--"]
            shutil.chown(self.folder, "postgres")
        pwfile = self.folder / "pw"
        pwfile.write_text(self.password + "\n")
        if self._run_as:
            shutil.chown(pwfile, "postgres")
        data = self.folder / "data"
        self._run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                self.user,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ]
        )
        options = f"-h 127.0.0.1 -k {self.folder} -c max_connections={self.max_connections}"
        if self.fast:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        for _attempt in range(3):  # the free port may be taken between the probe and the start
            self.port = free_port()
            try:
                self._run(
                    [
                        str(bindir / "pg_ctl"),
                        "-D",
                        str(data),
                        "-o",
                        f"{options} -p {self.port}",
                        "-l",
                        str(self.folder / "server.log"),
                        "-w",
                        "-t",
                        "60",
                        "start",
                    ]
                )
                return self
            except StorageError:
                continue
        log = (self.folder / "server.log").read_text(errors="replace")[-2000:]
        raise StorageError(f"PostgreSQL did not start; its log ends with:\n{log}")

    def create_database(self, name: str, synchronous_commit: bool = True) -> str:
        """Create an empty database; its URL.

        Args:
            name: Database name.
            synchronous_commit: Wait for each commit to reach the disk (PostgreSQL's default);
                ``False`` acknowledges a commit before its flush (a server crash may lose the
                last few hundred milliseconds of commits, never corrupt the database).
        """
        statements = [f'CREATE DATABASE "{name}"']
        if not synchronous_commit:
            statements.append(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        self.execute(*statements)
        return self.url(name)

    def execute(self, *statements: str) -> None:
        """Run ``statements`` in turn as the server's superuser, in the ``postgres`` database,
        each committed on its own (``CREATE DATABASE`` and ``ALTER ROLE`` among them)."""
        import psycopg2

        conn = psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user,
            password=self.password,
            dbname="postgres",
        )
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop the server and delete its folder."""
        if self.folder is None:
            return
        bindir = find_bindir()
        try:
            self._run(
                [str(bindir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast", "stop"]
            )
        except StorageError:
            pass  # never started, or already gone
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    def _run(self, cmd: list[str]) -> None:
        proc = subprocess.run(
            [*self._run_as, *cmd], capture_output=True, text=True, timeout=120, cwd=self.folder
        )
        if proc.returncode != 0:
            raise StorageError(
                f"{Path(cmd[0]).name} failed ({proc.returncode}): {proc.stderr.strip()[-1500:]}"
            )

    def __enter__(self) -> TemporaryPostgres:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
