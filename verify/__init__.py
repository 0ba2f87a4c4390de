"""Shadow-MVS verify suite: the contract, the checks (one pytest module per F-code),
the triage tree and the reporter plugin."""
