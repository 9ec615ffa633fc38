"""The org tree, users, devices and store apps."""
