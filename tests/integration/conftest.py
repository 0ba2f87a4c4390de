"""A healthy offline stack shared by the fault matrix, brought up once per module."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.faults import FaultBench
from shadow_mvs.config.settings import host_network_default
from shadow_mvs.stack.compose import ComposeProject, EnvironmentProblem, require_docker


@pytest.fixture(scope="module")
def fault_bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultBench]:
    try:
        require_docker()
    except EnvironmentProblem as problem:
        pytest.fail(f"integration tests need Docker: {problem}")
    compose = ComposeProject(offline=True, host_network=host_network_default())
    bench = FaultBench(compose, Path(tmp_path_factory.mktemp("faults")))
    bench.down()
    bench.up()
    yield bench
    bench.down()
