"""The terminal surfaces: what the command line prints, the REPL."""
