"""The manager page: static files served by the API, Leaflet from the npm registry at setup."""
