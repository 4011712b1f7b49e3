"""newsmon: news monitoring (collect, extract, understand, store, alert)."""

__version__ = "0.1.0"
