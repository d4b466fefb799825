"""The one exception type the experiment layer raises for user errors."""


class ExperimentError(ValueError):
    """A user error (bad design, unknown factor, foreign results directory, ...).

    The message is one line; the command-line front end prints it as
    ``innosim: <message>`` and exits with status 2.
    """

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
