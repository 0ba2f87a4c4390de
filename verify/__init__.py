"""Shadow-MVS verify suite: the contract, the checks (one pytest module per F-code),
the triage tree and the reporter plugin."""

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "peaktrade-shadow-mvs-verify"


def suite_version() -> str:
    """The installed distribution's version (``shadow-mvs --version``, verify.json)."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # a bare checkout on sys.path, never installed
        return "0+unknown"
