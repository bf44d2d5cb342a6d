"""Django's SQLite backend with writers queued inside each process."""
