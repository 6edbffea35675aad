"""Storage: the tables, the engines, and the migrations that create them."""
