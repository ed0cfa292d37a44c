"""What an index generation is, the storage protocol, and bringing it up to date (update, watcher, changelog)."""
