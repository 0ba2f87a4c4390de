"""Suite-wide test wiring: which tests may run beside each other under pytest-xdist.

Every test marked ``docker`` shares one compose project (``peaktrade-shadow-mvs``), the
host ports 9109, 9092, 3000, 9093 and 9097, and the one Docker engine: two of them at once
would tear each other's stack down. They form one ``xdist_group`` and so run in order on
one worker (``--dist loadgroup``, the README's test command), while the Docker-free tests,
which use free loopback ports and temporary directories only, share the other workers.
Without ``-n`` the marker changes nothing."""

import pytest

DOCKER_GROUP = pytest.mark.xdist_group("docker-stack")


# tryfirst: xdist turns the group into a node-id suffix in its own collection hook, which
# must see the marker already set.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("docker") is not None:
            item.add_marker(DOCKER_GROUP)
