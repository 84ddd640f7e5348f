"""What keeps grades and batches: one database, its tables, reads and writes."""
