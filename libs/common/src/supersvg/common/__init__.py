"""Code shared by every SuperSVG component: settings, logging, tracing, gRPC helpers."""
