"""公金受取口座: the public-money receiving account of each resident (docs/receiving_accounts.md)."""
