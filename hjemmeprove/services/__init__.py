"""Services over the Store: each method opens a short session and returns plain data."""
