"""Certificates, revocation, CMS and the development CAs. Pure library: never imports Django."""
