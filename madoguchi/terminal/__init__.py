"""The citizen card terminal (`madoguchi terminal`): a local card agent at a gate or kiosk.

Pure library (no Django): it reads the card over PC/SC, decides offline against a revocation
index and an allow-list synced from the server, queues events in a local SQLite file and
uploads them later, signed with the terminal's own Ed25519 key (see docs/citizencard.md).
"""
