"""Shadow-MVS verify suite: one package, rooms by role (imports point down only).

``core`` (contract, causes, triage, the one poll, the run) ← ``config`` (settings,
environments, endpoint access) ← ``stack`` (compose, bring-up, service states,
certificates) ← ``evidence`` (preflight rulebook, status APIs, exposition, SLO) ←
``report`` (terminal, JSON, JUnit, GitHub, forensics) ← ``plugin``, ``cli``, ``docs``.
The checks (``shadow_mvs.checks``, a checkout's ``verify/``) sit on top; ``data/`` holds
the contract, causes and triage tree. Importing this module loads nothing else.

PYTEST_DONT_REWRITE: pytest's documented opt-out from assert rewriting, for this module
only (it holds no assert). Installed from a wheel, the pytest11 entry point makes pytest
mark the whole package for rewriting, and a verify session forked from the CLI
(shadow_mvs/many.py) finds the package already imported; the marker keeps pytest from
warning about it. Submodules and the checks are rewritten as before.
"""

DISTRIBUTION = "peaktrade-shadow-mvs-verify"


def suite_version() -> str:
    """The installed distribution's version (``shadow-mvs --version``, verify.json)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # a bare checkout on sys.path, never installed
        return "0+unknown"
