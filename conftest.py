"""The suite is a pytest plugin: installed, the ``shadow_mvs`` entry point registers
``verify.pytest_plugin``. This names the same module, which pytest then skips, so a checkout
without an install (or with plugin autoload off) still gets the options and fixtures."""

pytest_plugins = ["verify.pytest_plugin"]
