"""Root wiring only. Installed, the ``shadow_mvs`` entry point registers
``shadow_mvs.plugin``; this names the same module, which pytest then skips, so a checkout
without an install (or with plugin autoload off) still gets the options and fixtures."""

pytest_plugins = ["shadow_mvs.plugin"]
