"""The SuperSVG operator: VectorizeJob -> worker pod -> status (kopf)."""
