"""Diffusion sessions on top of the official SDK: connect, reconnect, publish, classify errors."""
