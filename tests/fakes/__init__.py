"""Stand-ins for the providers' HTTP APIs, served on loopback, recording what they receive."""
