"""User-facing errors. The CLI prints them as one line and exits with code 2."""


class MccError(Exception):
    """An error caused by the user's input (model, data, options); never a bug in mcc."""


class UnsupportedOperatorError(MccError):
    pass


class ModelFormatError(MccError):
    pass


class InputDataError(MccError):
    pass


class OutputDirError(MccError):
    pass


class FitError(MccError):
    """The model does not fit the target's SRAM or flash."""
