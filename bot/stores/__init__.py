"""Where index generations are kept: files, PostgreSQL; migrate between them."""
