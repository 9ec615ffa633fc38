"""Pure location engine: filters, presence state machine, stops, beacon and Wi-Fi proximity.

No web framework, no database: plain values in, plain values out. The backend adapts rows
to these types and events back to rows.
"""
