"""A question -> ranked passages -> an Answer of verbatim quotes, or a plain decline."""
