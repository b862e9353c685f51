"""Sources of resident records. Each adapter turns what a core system delivers into
`RecordRow`s (or `RowError`s naming the line); the import service does the rest."""
