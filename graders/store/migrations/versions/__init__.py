"""The revisions, oldest first: v1_last_release is the schema before migrations."""
