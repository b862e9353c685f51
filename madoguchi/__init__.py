"""madoguchi (窓口): an online city hall for Japanese municipalities, built on the My Number Card."""

__version__ = "0.1.0"
