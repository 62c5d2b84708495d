"""The documented errors. Each bad-data case has its own class; all are DataError (a ValueError).
A bad config (or one over a server cap or budget) is a ConfigError."""


class ConfigError(ValueError):
    """A config value is out of range or of the wrong kind; the message names the field."""


class OverBudget(ConfigError):
    """A job's estimated work is above the server's budget (NONLIN_MAX_WORK); the message says what to lower."""


class DataError(ValueError):
    """The data cannot be used; the message says why and what to do."""


class UnreadableFile(DataError):
    """Not a file we can read as CSV text (binary, encoding, I/O, broken quoting)."""


class EmptyData(DataError):
    """No bytes, no rows or no feature columns."""


class TargetMissing(DataError):
    """The named target column is not in the header."""


class SingleClass(DataError):
    """The target has one class only."""


class TooFewPerClass(DataError):
    """A class has fewer than 2 rows: no stratified split."""


class NonNumericFeature(DataError):
    """A feature column holds text; the message names it."""


class MissingValues(DataError):
    """Empty or infinite cells; the message names the columns."""


class DuplicateColumns(DataError):
    """Two columns share a name."""


class TooLarge(DataError):
    """Over a row, column, class or size cap."""


class DatasetMissing(DataError):
    """A dataset's file is not installed and not in the data folder."""


class ChecksumMismatch(DataError):
    """A file's sha256 differs from the expected one."""
