"""Canvas tools. ``base.Tool`` is the protocol; the built-in tools are select, box, polygon,
hole, brush and eraser."""
