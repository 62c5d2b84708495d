"""nonlin_core: the engine of the nonlin playground (never imports streamlit)."""
from .config import ConfigError, RunConfig
from .errors import DataError

__version__ = "0.2.0"
__all__ = ["ConfigError", "DataError", "RunConfig", "__version__"]
