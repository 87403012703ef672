"""The archive: SQLite schema, the Python API over it (the only writer), text files."""
