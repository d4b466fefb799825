"""The ``innosim`` command line, above ``sim`` (the model) and ``experiments`` (what is run on it)."""
