"""The PostgreSQL + pgvector store (imported only when it is chosen)."""
