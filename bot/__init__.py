"""quotebot: answer questions about a folder of documents by quoting it verbatim."""

__version__ = "0.1.0"
