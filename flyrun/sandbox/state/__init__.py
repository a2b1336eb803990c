"""The sandbox's durable state: the data dir's layout and one SQLite database with its migrations."""
