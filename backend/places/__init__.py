"""Places and the beacons and Wi-Fi access points inside them."""
