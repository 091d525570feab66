"""Know your data: the embedding map, the review of likely label errors, near-duplicates."""
