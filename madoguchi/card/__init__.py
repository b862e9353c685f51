"""My Number Card access at the APDU level. Pure library: never imports Django."""
