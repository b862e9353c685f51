"""The Zengin fixed-width transfer format. Pure library: never imports Django."""
