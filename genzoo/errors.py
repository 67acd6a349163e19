"""The one exception type users see: its message is a single line that says what to do."""


class GenzooError(Exception):
    """A user-facing failure. The CLI prints its message on one line and exits with code 2."""


class PluginError(GenzooError):
    """A plugin could not be loaded or registered something invalid."""
