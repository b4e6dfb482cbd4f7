"""Byte-level simulators of the devices (ID-card reader on a pty, social security card on vpcd) and hall-sim."""
