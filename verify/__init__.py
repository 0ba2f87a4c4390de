"""The checks: one ``test_<check>.py`` per F-code, collected by ``pytest verify/``.

Installed, the same modules ship inside the package as ``shadow_mvs.checks``.
"""
