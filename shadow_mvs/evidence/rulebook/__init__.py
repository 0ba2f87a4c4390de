"""The one rulebook for the repo's files: what the contract and the repo's design say the
files the stack mounts must hold, one module per kind of file.

Two callers, one set of rules. The runtime preflight (``evidence/preflight.py``,
``evidence/grafana_preflight.py``) reads the mounted files the way the components do
(promtool, Grafana's provisioning rules in ``grafana_rules``) and asks each module's
``contract_findings``: the values a running check depends on. The offline asset tests
(``tests/compose``) ask those and each module's ``design_findings`` too: how the repo writes
its files where no running check would notice (explicit flags, intervals, panel queries).

Every rule answers with ``Finding``\\ s (``core/causes.py``). A contract finding names the
check it will break and a cause from ``data/causes.toml``, whose sentence the operator
reads; its ``detail`` says exactly what differs, for the offline tests. A design finding
breaks no check (``check`` None): it is only its detail.
"""
