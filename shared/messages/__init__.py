"""Messages: browse, search, get, delete, publish, export and tail — without consumers."""
