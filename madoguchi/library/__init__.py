"""図書館カード: the My Number Card as a library card (issue #21 part 3)."""
