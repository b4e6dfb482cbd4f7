"""Qt screens of the kiosk roles; they talk to the server and devices only through the AppContext."""
